"""What happens in a session's room: ``attendance``, ``chat_messages``, ``polls`` and
``poll_votes``, ``participant_activity``, ``recordings`` (see the package docstring for their
constraints)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from rooms.store.tables.base import Base
from rooms.store.types import UTCDateTime, utcnow

__all__ = [
    "ActivityRow",
    "AttendanceRow",
    "ChatMessageRow",
    "PollRow",
    "PollVoteRow",
    "RecordingRow",
]


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


class ActivityRow(Base):
    """One participant's counters in one session (rooms/activity.py): hands raised and
    seconds spoken, added to as they happen."""

    __tablename__ = "participant_activity"
    __table_args__ = (
        CheckConstraint("hands_raised >= 0", name="hands_non_negative"),
        CheckConstraint("talk_seconds >= 0", name="talk_non_negative"),
    )

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hands_raised: Mapped[int] = mapped_column(Integer, default=0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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
