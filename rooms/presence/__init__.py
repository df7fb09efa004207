"""Room presence and capacity: one interface (:class:`Presence`), on Redis
(:class:`RedisPresence`, atomic Lua scripts) or in this process (:class:`LocalPresence`, the
embedded single node)."""

from rooms.presence.base import Presence
from rooms.presence.entries import (
    Admission,
    Departure,
    MustWait,
    PresenceEntry,
    ResumeSave,
    RoomSnapshot,
)
from rooms.presence.local import LocalPresence
from rooms.presence.presence import RedisPresence

__all__ = [
    "Admission",
    "Departure",
    "LocalPresence",
    "MustWait",
    "Presence",
    "PresenceEntry",
    "RedisPresence",
    "ResumeSave",
    "RoomSnapshot",
]
