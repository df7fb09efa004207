"""schedules (scheduled slots linked to sessions); enrollments: refund_due, one active
enrollment per payment; waitlist; sessions.reminded_at; recordingUrl without host

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rooms.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("instructor_id", sa.String(length=128), nullable=False),
        sa.Column("instructor_name", sa.String(length=200), nullable=False),
        sa.Column("instructor_email", sa.String(length=320), nullable=True),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'live', 'finished')",
            name=op.f("ck_schedules_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_schedules_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_index("ix_schedules_tenant_starts", "schedules", ["tenant_id", "starts_at"])
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(
            sa.Column("refund_due", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    op.create_index(
        "uq_enrollments_payment_active",
        "enrollments",
        ["tenant_id", "payment_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active' AND payment_id IS NOT NULL"),
        postgresql_where=sa.text("status = 'active' AND payment_id IS NOT NULL"),
    )

    op.create_table(
        "waitlist",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("user_email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("promoted_at", UTCDateTime(), nullable=True),
        sa.Column("enrollment_id", sa.String(length=36), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'promoted', 'left')", name=op.f("ck_waitlist_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_waitlist_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist")),
    )
    op.create_index(
        "uq_waitlist_one_waiting",
        "waitlist",
        ["session_id", "user_id"],
        unique=True,
        sqlite_where=sa.text("status = 'waiting'"),
        postgresql_where=sa.text("status = 'waiting'"),
    )
    op.create_index("ix_waitlist_session_order", "waitlist", ["session_id", "status", "created_at"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("reminded_at", UTCDateTime(), nullable=True))
    # Links are now built per answer from the request or LIVECLASS_PUBLIC_URL (api/links.py):
    # a recordingUrl naming this server's own download with a host keeps its path only, so
    # it follows the server to a new address or port.
    own = (
        "FROM recordings r WHERE r.session_id = sessions.id"
        " AND sessions.recording_url LIKE '%/api/v1/recordings/' || r.id || '/download'"
    )
    op.execute(
        "UPDATE sessions SET recording_url ="
        f" '/api/v1/recordings/' || (SELECT r.id {own}) || '/download'"
        f" WHERE recording_url LIKE 'http%' AND EXISTS (SELECT 1 {own})"
    )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("reminded_at")
    op.drop_index("ix_waitlist_session_order", table_name="waitlist")
    op.drop_index("uq_waitlist_one_waiting", table_name="waitlist")
    op.drop_table("waitlist")
    op.drop_index("uq_enrollments_payment_active", table_name="enrollments")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("refund_due")
    op.drop_index("ix_schedules_tenant_starts", table_name="schedules")
    op.drop_table("schedules")
