"""participant_activity (hands raised and talk time per user and session, rooms/activity.py)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rooms.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participant_activity",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("hands_raised", sa.Integer(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "hands_raised >= 0", name=op.f("ck_participant_activity_hands_non_negative")
        ),
        sa.CheckConstraint(
            "talk_seconds >= 0", name=op.f("ck_participant_activity_talk_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_participant_activity_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "user_id", name=op.f("pk_participant_activity")),
    )


def downgrade() -> None:
    op.drop_table("participant_activity")
