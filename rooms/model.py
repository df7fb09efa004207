"""Domain vocabulary shared by the store, the services and the outer layers."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "MAX_PARTICIPANTS",
    "EnrollmentStatus",
    "RecordingSource",
    "RecordingStatus",
    "RoomRole",
    "SessionStatus",
    "SessionType",
]

#: The largest class liveclass is built and tested for.
MAX_PARTICIPANTS = 500


class SessionStatus(StrEnum):
    """The session state machine: scheduled → live → ended, scheduled → cancelled."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class SessionType(StrEnum):
    ONE_ON_ONE = "1-on-1"
    GROUP = "group"
    WORKSHOP = "workshop"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class RoomRole(StrEnum):
    """A participant's role inside a room (carried by room tokens).

    ``host`` runs the room and never takes a seat; ``guest`` takes one seat; ``observer``
    (tenant admins) watches hidden and takes no seat.
    """

    HOST = "host"
    GUEST = "guest"
    OBSERVER = "observer"

    @property
    def takes_seat(self) -> bool:
        return self is RoomRole.GUEST

    @property
    def may_chat(self) -> bool:
        """The one chat rule, over WebSocket and REST alike: hidden observers watch and do
        not write (a message would reveal them); hosts and guests chat."""
        return self is not RoomRole.OBSERVER


class RecordingStatus(StrEnum):
    RECORDING = "recording"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class RecordingSource(StrEnum):
    UPLOAD = "upload"
    LINK = "link"
    SERVER = "server"
