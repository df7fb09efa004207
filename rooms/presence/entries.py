"""The values presence deals in: a participant's entry and what each script reports.

Plain frozen data with no I/O (``rooms/presence/presence.py`` reads and writes them in Redis).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any

from rooms.model import RoomRole

__all__ = [
    "Admission",
    "Departure",
    "MustWait",
    "PresenceEntry",
    "PurgeListener",
    "ResumeSave",
    "RoomNotLoaded",
    "RoomSnapshot",
]


class RoomNotLoaded(Exception):
    """Redis holds no state for this room: load it from the store and retry."""


class MustWait(Exception):
    """The room's waiting room is on and this user was not let in yet: nothing was admitted
    (see ``Presence.admit``'s ``may_wait``)."""


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """One participant in one room, as stored in Redis."""

    participant_id: str
    user_id: str
    name: str
    role: RoomRole
    source: str  # "ws" or "rest"
    node: str
    joined_at_ms: int

    @property
    def takes_seat(self) -> bool:
        return self.role.takes_seat

    @property
    def hidden(self) -> bool:
        return self.role is RoomRole.OBSERVER

    def to_json(self) -> str:
        # Not ``dataclasses.asdict``, which deep-copies every value (one admission each,
        # hundreds in a join storm): the fields are flat.
        data = {name: getattr(self, name) for name in _ENTRY_FIELDS}
        data["role"] = self.role.value
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> PresenceEntry:
        data: dict[str, Any] = json.loads(raw)
        data["role"] = RoomRole(data["role"])
        return cls(**data)


_ENTRY_FIELDS = tuple(f.name for f in fields(PresenceEntry))


@dataclass(frozen=True, slots=True)
class Admission:
    """The result of a successful :meth:`Presence.admit`."""

    entry: PresenceEntry
    count: int
    seats: int
    capacity: int
    rejoined: bool
    replaced: PresenceEntry | None
    purged: list[PresenceEntry]
    #: Whether the host let this user publish (see :meth:`Presence.allow_publish`).
    publish_allowed: bool = False
    #: The room's last sequence number handed out, read in the admission's own step, when
    #: the presence keeps it beside the room (Redis: one round trip fewer per join); None
    #: when the caller must ask the sequence itself.
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class ResumeSave:
    """A resume token to save with an admission (see :meth:`Presence.admit`)."""

    token: str
    ttl_seconds: int
    #: The token the connection came back with, forgotten once the new one is saved.
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class Departure:
    entry: PresenceEntry | None
    count: int
    seats: int


@dataclass(frozen=True, slots=True)
class RoomSnapshot:
    status: str | None
    capacity: int
    entries: list[PresenceEntry]

    @property
    def visible(self) -> list[PresenceEntry]:
        return [e for e in self.entries if not e.hidden]

    @property
    def count(self) -> int:
        return len(self.visible)

    @property
    def seats(self) -> int:
        return sum(1 for e in self.entries if e.takes_seat)


#: Told ``(session_id, entries)`` for the entries a purge removed because they expired.
PurgeListener = Callable[[str, "list[PresenceEntry]"], Awaitable[None]]
