"""Room presence and capacity in Redis: one interface, atomic Lua scripts."""

from rooms.presence.presence import (
    Admission,
    Departure,
    MustWait,
    Presence,
    PresenceEntry,
    ResumeSave,
    RoomSnapshot,
)

__all__ = [
    "Admission",
    "Departure",
    "MustWait",
    "Presence",
    "PresenceEntry",
    "ResumeSave",
    "RoomSnapshot",
]
