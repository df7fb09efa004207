"""Response bodies of the REST API (request bodies are the domain inputs in rooms.inputs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rooms.errors import ValidationFailed
from rooms.model import SessionStatus

__all__ = [
    "AccessLinkOut",
    "AttendanceOut",
    "BookingList",
    "BookingOut",
    "EnrollmentList",
    "EnrollmentOut",
    "FeedbackOut",
    "HealthOut",
    "InstructorOut",
    "JoinOut",
    "LeaveOut",
    "ListQuery",
    "MessageList",
    "MessageOut",
    "MessageQuery",
    "ParticipantOut",
    "ParticipantsOut",
    "RecordingList",
    "RecordingOut",
    "SessionList",
    "SessionOut",
    "TokenOut",
    "TokenRequest",
]


class _Out(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InstructorOut(_Out):
    id: str
    name: str
    avatar: str | None = None


class SessionOut(_Out):
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


class SessionList(_Out):
    sessions: list[SessionOut]
    total: int
    limit: int
    offset: int
    page: int
    totalPages: int


class ListQuery(_Query):
    """Pagination: ``limit`` with ``offset`` (alias ``skip``) or ``page`` (1-based)."""

    status: SessionStatus | None = None
    instructorId: str | None = Field(default=None, min_length=1, max_length=128)
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


class EnrollmentOut(_Out):
    id: str
    sessionId: str
    userId: str
    userName: str
    status: str
    enrolledAt: datetime
    cancelledAt: datetime | None
    paid: bool
    paymentId: str | None
    paymentGateway: str | None
    amountPaid: float | None
    currency: str | None
    enrolledCount: int | None = None
    seatsAvailable: int | None = None


class EnrollmentList(_Out):
    enrollments: list[EnrollmentOut]
    total: int


class BookingOut(_Out):
    enrollment: EnrollmentOut
    session: SessionOut


class BookingList(_Out):
    bookings: list[BookingOut]
    total: int
    limit: int
    offset: int
    page: int
    totalPages: int


class BookingQuery(_Query):
    status: SessionStatus | None = None
    limit: int = Field(default=20, ge=1, le=100)
    offset: int | None = Field(default=None, ge=0, le=1_000_000)
    page: int | None = Field(default=None, ge=1, le=100_000)

    def resolved_offset(self) -> int:
        if self.page is not None:
            return (self.page - 1) * self.limit
        return self.offset or 0


class FeedbackOut(_Out):
    sessionId: str
    userId: str
    rating: int
    comment: str | None
    updatedAt: datetime


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    userName: str | None = Field(
        default=None, min_length=1, max_length=200, description="Display name in the room."
    )


class IceServerOut(_Out):
    """An ``RTCIceServer``: pass the list to ``new RTCPeerConnection({iceServers})``."""

    urls: list[str]
    username: str | None = Field(
        default=None, description="TURN only: `<expiry>:<user id>` (coturn's shared-secret scheme)."
    )
    credential: str | None = Field(default=None, description="TURN only; expires with it.")


class TokenOut(_Out):
    token: str
    expiresAt: datetime
    sessionId: str
    roomName: str
    role: Literal["host", "guest", "observer"]
    isOwner: bool
    userName: str
    grants: dict[str, bool]
    wsUrl: str
    iceServers: list[IceServerOut] = Field(
        description="STUN and TURN servers for the media connections (empty when the SFU "
        "needs none); the welcome carries fresh ones too."
    )


class ParticipantOut(_Out):
    id: str
    userId: str
    name: str
    role: str
    source: str
    joinedAt: datetime


class JoinOut(_Out):
    id: str
    sessionId: str
    roomName: str
    userId: str
    role: str
    joinedAt: datetime
    created: bool
    heartbeatSeconds: float = Field(
        description="Call join again within this many seconds to keep the seat."
    )
    wsUrl: str


class LeaveOut(_Out):
    id: str
    sessionId: str
    userId: str
    leftAt: datetime


class ParticipantsOut(_Out):
    sessionId: str
    status: SessionStatus
    activeCount: int
    maxCapacity: int
    seatsTaken: int
    isFull: bool
    capacityUsed: float = Field(description="Seats taken, percent of maxCapacity.")
    participants: list[ParticipantOut]


class JoinInterval(_Out):
    joinedAt: datetime
    leftAt: datetime | None


class AttendeeOut(_Out):
    userId: str
    name: str
    role: str
    joins: list[JoinInterval]
    watchTime: float = Field(description="Seconds in the room.")
    attended: bool
    firstJoinedAt: datetime
    lastLeftAt: datetime | None


class AttendanceOut(_Out):
    sessionId: str
    attendedCount: int
    participants: list[AttendeeOut]


class SenderOut(_Out):
    id: str
    name: str
    role: str


class MessageOut(_Out):
    id: str
    seq: int
    sessionId: str
    from_: SenderOut = Field(serialization_alias="from")
    text: str
    ts: datetime


class MessageList(_Out):
    messages: list[MessageOut]
    hasMore: bool
    nextCursor: int | None = Field(description="Pass as `after` to read newer messages.")
    prevCursor: int | None = Field(description="Pass as `before` to read older messages.")


class MessageQuery(_Query):
    after: int | None = Field(default=None, ge=0, le=2**62)
    before: int | None = Field(default=None, ge=0, le=2**62)
    limit: int = Field(default=50, ge=1, le=200)


class AccessLinkOut(_Out):
    url: str
    expiresAt: datetime | None


class RecordingOut(_Out):
    id: str
    sessionId: str
    source: str
    status: str
    filename: str | None
    contentType: str | None
    size: int | None
    duration: float | None
    startedAt: datetime | None
    stoppedAt: datetime | None
    createdAt: datetime
    url: str
    downloadLink: str
    accessLink: AccessLinkOut


class RecordingList(_Out):
    sessionId: str
    recordingUrl: str | None
    recordings: list[RecordingOut]


class HealthOut(_Out):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class BanOut(_Out):
    userId: str
    userName: str
    reason: str | None
    bannedBy: str
    bannedAt: datetime


class BansOut(_Out):
    sessionId: str
    bans: list[BanOut]
