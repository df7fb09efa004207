"""polls and poll_votes (polls and quizzes, rooms/polls.py)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rooms.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("multiple", sa.Boolean(), nullable=False),
        sa.Column("correct", sa.JSON(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("launched_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'closed')", name=op.f("ck_polls_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_polls_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
    )
    op.create_index("ix_polls_session_created", "polls", ["session_id", "created_at"])
    op.create_table(
        "poll_votes",
        sa.Column("poll_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("voted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_votes_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("poll_id", "user_id", name=op.f("pk_poll_votes")),
    )


def downgrade() -> None:
    op.drop_table("poll_votes")
    op.drop_index("ix_polls_session_created", table_name="polls")
    op.drop_table("polls")
