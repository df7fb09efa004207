"""The tables of liveclass, with the constraints that keep the data honest.

- ``sessions``: unique room name per tenant; status and session type checked; 1..500 seats;
  ``enrolled_count`` never exceeds ``max_participants`` (the enrollment seat cap relies on it);
  the scheduled window is non-empty; price is never negative.
- ``enrollments``: at most one *active* enrollment per user and session (partial unique index);
  ``refund_due`` marks paid ones cancelled with their session; one payment pays for at most
  one active enrollment of its tenant.
- ``feedback``: one rating (1..5) per user and session, by enrollees and attendees.
- ``session_bans``: users the host kicked; one row per user and session.
- ``attendance``: one row per join, closed by its leave; watch time derives from these rows.
- ``chat_messages``: ordered by a per-session ``seq``, unique within the session.
- ``polls`` and ``poll_votes``: a session's polls and quizzes (rooms/polls.py), one vote per
  user and poll (the last one counts).
- ``recordings``: uploaded files, external links and server recordings, with their status.
- ``schedules``: scheduled slots, each linked to the session it opens once there is one.
- ``waitlist``: users waiting for a seat of a full session, at most once each at a time.
- ``webhook_endpoints`` (per tenant), ``webhook_events`` (the outbox), ``webhook_deliveries``
  (one per event and endpoint: status, attempts, lease) and ``webhook_attempts`` (the log).

Every child row of a session belongs to it (foreign key, deleted with it); webhook rows belong
to a tenant, and deliveries and attempts to their event and endpoint.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from rooms.store.types import UTCDateTime, utcnow

__all__ = [
    "AttendanceRow",
    "BanRow",
    "Base",
    "ChatMessageRow",
    "EnrollmentRow",
    "FeedbackRow",
    "PollRow",
    "PollVoteRow",
    "RecordingRow",
    "ScheduleRow",
    "SessionRow",
    "WaitlistRow",
    "WebhookAttemptRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "WebhookEventRow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


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


class AttendanceRow(Base):
    __tablename__ = "attendance"
    __table_args__ = (
        CheckConstraint("role IN ('host', 'guest', 'observer')", name="role_valid"),
        CheckConstraint("source IN ('ws', 'rest')", name="source_valid"),
        CheckConstraint("left_at IS NULL OR left_at >= joined_at", name="leave_after_join"),
        Index("ix_attendance_session_user", "session_id", "user_id"),
        Index("ix_attendance_participant", "session_id", "participant_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(128))
    user_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(8))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChatMessageRow(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_chat_messages_session_seq"),
        CheckConstraint("length(text) > 0", name="text_not_empty"),
        Index("ix_chat_messages_session_created", "session_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[str] = mapped_column(String(128))
    user_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PollRow(Base):
    __tablename__ = "polls"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'open', 'closed')", name="status_valid"),
        Index("ix_polls_session_created", "session_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    correct: Mapped[list[int] | None] = mapped_column(JSON)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QuestionRow(Base):
    """A student's private question to the teacher (rooms/questions.py)."""

    __tablename__ = "questions"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'answered', 'dismissed')", name="status_valid"),
        Index("ix_questions_session_asked", "session_id", "asked_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    user_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PollVoteRow(Base):
    __tablename__ = "poll_votes"

    poll_id: Mapped[str] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(200))
    choices: Mapped[list[int]] = mapped_column(JSON)
    voted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecordingRow(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint(
            "status IN ('recording', 'processing', 'ready', 'failed')", name="status_valid"
        ),
        CheckConstraint("source IN ('upload', 'link', 'server')", name="source_valid"),
        CheckConstraint("size_bytes IS NULL OR size_bytes >= 0", name="size_non_negative"),
        Index("ix_recordings_session_created", "session_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(100))
    storage_path: Mapped[str | None] = mapped_column(String(1024))
    external_url: Mapped[str | None] = mapped_column(String(2048))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)
    # The media worker writing a server recording (source "server") while it is in progress.
    worker_id: Mapped[str | None] = mapped_column(String(64))


# -- Webhooks (migration 0004) ---------------------------------------------------------------


class WebhookEndpointRow(Base):
    """A tenant's webhook receiver: where events go, signed with ``secret``.

    ``event_types`` empty means every event type."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_tenant", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookEventRow(Base):
    """One event, written in the transaction of the state change it reports (the outbox).

    ``body`` is the exact JSON sent, so every attempt carries the same bytes."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDeliveryRow(Base):
    """One event to one endpoint: the unit the dispatcher claims, retries and gives up on.

    A node claims a pending row by setting ``lease_owner``/``lease_until``; a lease that ran
    out (the node died mid-attempt) makes the row claimable again."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status_valid"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_tenant_created", "tenant_id", "created_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookAttemptRow(Base):
    """One HTTP attempt of a delivery: the delivery log admins read."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "attempt"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    node: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)


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
