"""Sessions and who booked them: ``sessions``, ``enrollments``, ``waitlist``,
``feedback``, ``session_bans`` and ``schedules`` (see the package docstring for their
constraints)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from rooms.store.tables.base import Base
from rooms.store.types import UTCDateTime, utcnow

__all__ = ["BanRow", "EnrollmentRow", "FeedbackRow", "ScheduleRow", "SessionRow", "WaitlistRow"]


class SessionRow(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "room_name", name="uq_sessions_tenant_room_name"),
        CheckConstraint(
            "status IN ('scheduled', 'live', 'ended', 'cancelled')", name="status_valid"
        ),
        CheckConstraint(
            "session_type IN ('1-on-1', 'group', 'workshop')", name="session_type_valid"
        ),
        CheckConstraint("max_participants >= 1 AND max_participants <= 500", name="capacity_range"),
        CheckConstraint(
            "enrolled_count >= 0 AND enrolled_count <= max_participants", name="seats_capped"
        ),
        CheckConstraint("scheduled_end > scheduled_start", name="schedule_window"),
        CheckConstraint("price >= 0", name="price_non_negative"),
        Index("ix_sessions_tenant_status_start", "tenant_id", "status", "scheduled_start"),
        Index("ix_sessions_tenant_instructor", "tenant_id", "instructor_id"),
        Index("ix_sessions_parent", "parent_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    room_name: Mapped[str] = mapped_column(String(64))
    instructor_id: Mapped[str] = mapped_column(String(128))
    instructor_name: Mapped[str] = mapped_column(String(200))
    instructor_avatar: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    session_type: Mapped[str] = mapped_column(String(16), default="group")
    course_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    scheduled_start: Mapped[datetime] = mapped_column(UTCDateTime())
    scheduled_end: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    max_participants: Mapped[int] = mapped_column(Integer)
    enrolled_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    requires_enrollment: Mapped[bool] = mapped_column(Boolean, default=False)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    currency: Mapped[str | None] = mapped_column(String(3))
    thumbnail: Mapped[str | None] = mapped_column(String(2048))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_url: Mapped[str | None] = mapped_column(String(2048))
    #: When the start reminder went out (cleared by a reschedule); see rooms/reminders.py.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: A breakout room's class (rooms/breakout_store.py); None for a class.
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True
    )


class EnrollmentRow(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'cancelled')", name="status_valid"),
        CheckConstraint("amount_paid IS NULL OR amount_paid >= 0", name="amount_non_negative"),
        Index(
            "uq_enrollments_one_active",
            "session_id",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_enrollments_tenant_user", "tenant_id", "user_id"),
        Index(
            "uq_enrollments_payment_active",
            "tenant_id",
            "payment_id",
            unique=True,
            sqlite_where=text("status = 'active' AND payment_id IS NOT NULL"),
            postgresql_where=text("status = 'active' AND payment_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    user_name: Mapped[str] = mapped_column(String(200))
    user_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="active")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    payment_id: Mapped[str | None] = mapped_column(String(200))
    payment_gateway: Mapped[str | None] = mapped_column(String(32))
    amount_paid: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    #: Cancelled with its session after it was paid for: the platform owes a refund.
    refund_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class WaitlistRow(Base):
    """A user waiting for a seat of a full session, in order (``created_at``); promoted into
    an enrollment when a seat frees."""

    __tablename__ = "waitlist"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'promoted', 'left')", name="status_valid"),
        Index(
            "uq_waitlist_one_waiting",
            "session_id",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'waiting'"),
            postgresql_where=text("status = 'waiting'"),
        ),
        Index("ix_waitlist_session_order", "session_id", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    user_name: Mapped[str] = mapped_column(String(200))
    user_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enrollment_id: Mapped[str | None] = mapped_column(String(36))


class FeedbackRow(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id", name="uq_feedback_session_user"),
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    user_name: Mapped[str] = mapped_column(String(200))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BanRow(Base):
    """A user the host removed from a session: refused from then on, even with a fresh token."""

    __tablename__ = "session_bans"
    __table_args__ = (UniqueConstraint("session_id", "user_id", name="uq_session_bans_user"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    user_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    banned_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScheduleRow(Base):
    """A scheduled slot (the Daily seed's "scheduled session"): a time an instructor plans to
    teach, linked (``session_id``) to the session whose room it opens, once there is one."""

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'live', 'finished')", name="status_valid"),
        Index("ix_schedules_tenant_starts", "tenant_id", "starts_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    instructor_id: Mapped[str] = mapped_column(String(128))
    instructor_name: Mapped[str] = mapped_column(String(200))
    instructor_email: Mapped[str | None] = mapped_column(String(320))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
