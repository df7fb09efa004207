"""The room over REST: room tokens, REST joins and leaves, who is in the room, attendance."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.base import Out
from rooms.model import SessionStatus

__all__ = [
    "AttendanceOut",
    "AttendeeOut",
    "IceServerOut",
    "JoinInterval",
    "JoinOut",
    "JoinRequest",
    "LeaveOut",
    "ParticipantOut",
    "ParticipantsOut",
    "TokenOut",
    "TokenRequest",
]


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    userName: str | None = Field(
        default=None, min_length=1, max_length=200, description="Display name in the room."
    )


class IceServerOut(Out):
    """An ``RTCIceServer``: pass the list to ``new RTCPeerConnection({iceServers})``."""

    urls: list[str]
    username: str | None = Field(
        default=None, description="TURN only: `<expiry>:<user id>` (coturn's shared-secret scheme)."
    )
    credential: str | None = Field(default=None, description="TURN only; expires with it.")


class TokenOut(Out):
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


class ParticipantOut(Out):
    id: str
    userId: str
    name: str
    role: str
    source: str
    joinedAt: datetime


class JoinOut(Out):
    id: str
    sessionId: str
    roomName: str
    userId: str
    role: str
    joinedAt: datetime
    created: bool
    heartbeatSeconds: float | None = Field(
        description="Call join again within this many seconds to keep the seat; null for a "
        "seat held until leave or the end of the class."
    )
    wsUrl: str


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    untilLeave: bool = Field(
        default=False,
        description="Hold the seat until leave or the end of the class instead of renewing it.",
    )


class LeaveOut(Out):
    id: str
    sessionId: str
    userId: str
    leftAt: datetime


class ParticipantsOut(Out):
    sessionId: str
    status: SessionStatus
    activeCount: int
    maxCapacity: int
    seatsTaken: int
    isFull: bool
    capacityUsed: float = Field(description="Seats taken, percent of maxCapacity.")
    participants: list[ParticipantOut]


class JoinInterval(Out):
    joinedAt: datetime
    leftAt: datetime | None


class AttendeeOut(Out):
    userId: str
    name: str
    role: str
    joins: list[JoinInterval]
    watchTime: float = Field(description="Seconds in the room.")
    attended: bool
    firstJoinedAt: datetime
    lastLeftAt: datetime | None


class AttendanceOut(Out):
    sessionId: str
    attendedCount: int
    participants: list[AttendeeOut]
