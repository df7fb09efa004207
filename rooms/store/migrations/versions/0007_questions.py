"""questions (students' private questions to the teacher, rooms/questions.py)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 18:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rooms.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'answered', 'dismissed')",
            name=op.f("ck_questions_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_questions_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
    )
    op.create_index("ix_questions_session_asked", "questions", ["session_id", "asked_at"])


def downgrade() -> None:
    op.drop_index("ix_questions_session_asked", table_name="questions")
    op.drop_table("questions")
