"""session bans

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:20:06.505560
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rooms.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_bans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("banned_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_session_bans_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_bans")),
        sa.UniqueConstraint("session_id", "user_id", name="uq_session_bans_user"),
    )


def downgrade() -> None:
    op.drop_table("session_bans")
