"""server recordings remember the media worker that writes them

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The worker id lets a sweeper mark a recording failed when its worker dies instead of
    # leaving it "recording" forever.
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("worker_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("worker_id")
