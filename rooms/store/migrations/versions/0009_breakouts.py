"""breakout rooms: sessions.parent_id (a breakout room is a child session of its class,
rooms/breakout_store.py)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            op.f("fk_sessions_parent_id_sessions"),
            "sessions",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_sessions_parent", ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_parent")
        batch.drop_constraint(op.f("fk_sessions_parent_id_sessions"), type_="foreignkey")
        batch.drop_column("parent_id")
