"""Sessions: one session as a caller sees it, a page of them, and the list query."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from api.schemas.base import Out, Query
from rooms.errors import ValidationFailed
from rooms.model import SessionStatus

__all__ = ["InstructorOut", "ListQuery", "SessionList", "SessionOut"]


class InstructorOut(Out):
    id: str
    name: str
    avatar: str | None = None


class SessionOut(Out):
    id: str
    roomName: str
    tenantId: str
    title: str
    description: str
    sessionType: str
    courseId: str | None
    status: SessionStatus
    instructor: InstructorOut
    instructorId: str
    scheduledStart: datetime
    scheduledEnd: datetime
    scheduledDuration: int = Field(description="Scheduled length in minutes.")
    startedAt: datetime | None
    endedAt: datetime | None
    cancelledAt: datetime | None
    duration: int | None = Field(
        description="Seconds live: from start to end, or to now while live; null before start."
    )
    maxParticipants: int
    enrolledCount: int
    seatsAvailable: int = Field(description="Enrollment seats left.")
    activeCount: int = Field(description="People in the room now (hidden observers excluded).")
    attendedCount: int
    price: float
    currency: str | None
    isFree: bool
    requiresEnrollment: bool
    thumbnail: str | None
    metadata: dict[str, Any]
    featured: bool
    recordingUrl: str | None
    recordingAvailable: bool
    joinUrl: str
    createdAt: datetime
    updatedAt: datetime
    canEdit: bool
    canStart: bool
    canEnd: bool
    canCancel: bool
    canJoin: bool
    canEnroll: bool
    isInstructor: bool
    isEnrolled: bool


class SessionList(Out):
    sessions: list[SessionOut]
    total: int
    limit: int
    offset: int
    page: int
    totalPages: int


class ListQuery(Query):
    """Pagination: ``limit`` with ``offset`` (alias ``skip``) or ``page`` (1-based)."""

    status: SessionStatus | None = None
    instructorId: str | None = Field(default=None, min_length=1, max_length=128)
    expertId: str | None = Field(
        default=None, min_length=1, max_length=128, description="Same as instructorId."
    )
    courseId: str | None = Field(default=None, min_length=1, max_length=128)
    featured: bool | None = None
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    tenant: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Anonymous catalogue only (LIVECLASS_PUBLIC_CATALOG); ignored with a token.",
    )
    limit: int = Field(default=20, ge=1, le=100)
    offset: int | None = Field(default=None, ge=0, le=1_000_000)
    skip: int | None = Field(default=None, ge=0, le=1_000_000)
    page: int | None = Field(default=None, ge=1, le=100_000)

    def instructor(self) -> str | None:
        if self.instructorId and self.expertId and self.instructorId != self.expertId:
            raise ValidationFailed("instructorId and expertId name the same filter; use one")
        return self.instructorId or self.expertId

    def resolved_offset(self) -> int:
        if self.page is not None:
            return (self.page - 1) * self.limit
        return self.offset if self.offset is not None else (self.skip or 0)

    def utc_from(self) -> datetime | None:
        return _utc(self.from_)

    def utc_to(self) -> datetime | None:
        return _utc(self.to)


def _utc(value: datetime | None) -> datetime | None:
    """A ``from``/``to`` bound in UTC; naive or unrepresentable values are a 422."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValidationFailed("from and to need a timezone (for example 2025-11-01T08:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValidationFailed("from and to must be valid timestamps") from None
