"""Breakout rooms: the rules, sans-I/O.

The host splits the class's students into ``count`` rooms (1 to :data:`MAX_ROOMS`), either
automatically (:func:`plan_rooms` without ``manual``: the students shuffled, then dealt out
one at a time so that no two rooms differ by more than one person) or by hand (``manual``:
user id → room index; the students left out stay in the main room). Rooms are named
``Room 1``, ``Room 2``... unless the host names them. A timer (``duration`` seconds, from
:data:`MIN_DURATION` to :data:`MAX_DURATION`) is optional.

Every refusal is a :class:`~rooms.errors.ValidationFailed` with a stable code
(``invalid_breakout``): the hub answers it as a protocol ``error``, REST as 422. Nothing
here does I/O: ``rooms/breakout_store.py`` keeps the rooms (child sessions),
``signaling/breakouts.py`` moves people.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rooms.errors import ValidationFailed

__all__ = [
    "MAX_DURATION",
    "MAX_NAME_CHARS",
    "MAX_ROOMS",
    "MIN_DURATION",
    "RoomPlan",
    "Student",
    "check_duration",
    "plan_rooms",
]

MAX_ROOMS = 50
MAX_NAME_CHARS = 60
#: The timer, in seconds: one minute to four hours.
MIN_DURATION = 60
MAX_DURATION = 4 * 3600


@dataclass(frozen=True, slots=True)
class Student:
    """A student of the class (from the main room's presence, or named by the host)."""

    user_id: str
    name: str


@dataclass(frozen=True, slots=True)
class RoomPlan:
    """One breakout room as planned: its name and who goes there (in order)."""

    name: str
    members: tuple[Student, ...]


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_breakout")


def check_duration(duration: int | None) -> int | None:
    """``duration`` if it is a valid timer (or None: no timer)."""
    if duration is not None and not MIN_DURATION <= duration <= MAX_DURATION:
        raise _invalid(f"the timer is {MIN_DURATION} to {MAX_DURATION} seconds")
    return duration


def room_names(count: int, names: Sequence[str] | None) -> list[str]:
    """The rooms' names: the host's (one per room, 1 to 60 characters, distinct) or
    ``Room 1``..``Room N``."""
    if names is None:
        return [f"Room {i + 1}" for i in range(count)]
    cleaned = [n.strip() for n in names]
    if len(cleaned) != count:
        raise _invalid(f"give one name per room ({count}), or none")
    if any(not n or len(n) > MAX_NAME_CHARS for n in cleaned):
        raise _invalid(f"a room's name is 1 to {MAX_NAME_CHARS} characters")
    if len(set(cleaned)) != len(cleaned):
        raise _invalid("two rooms have the same name")
    return cleaned


def plan_rooms(
    students: Sequence[Student],
    count: int,
    *,
    manual: Mapping[str, int] | None = None,
    names: Sequence[str] | None = None,
    rng: random.Random | None = None,
) -> tuple[RoomPlan, ...]:
    """Split ``students`` into ``count`` rooms.

    Automatic (``manual`` None): shuffled with ``rng`` (kept in the given order without
    one), then dealt round-robin: room sizes differ by at most one. By hand: ``manual``
    maps a user id to a room index (0-based); a user id that is not among ``students`` is
    still placed (named by its id: someone who has not joined yet), students it leaves out
    stay in the main room. A student appears in ``students`` once (duplicates are dropped).
    """
    if not 1 <= count <= MAX_ROOMS:
        raise _invalid(f"1 to {MAX_ROOMS} rooms")
    labels = room_names(count, names)
    unique: dict[str, Student] = {}
    for student in students:
        unique.setdefault(student.user_id, student)
    rooms: list[list[Student]] = [[] for _ in range(count)]
    if manual is None:
        order = list(unique.values())
        if rng is not None:
            rng.shuffle(order)
        for i, student in enumerate(order):
            rooms[i % count].append(student)
    else:
        for user_id, index in manual.items():
            if not 0 <= index < count:
                raise _invalid(f"room {index} does not exist (0 to {count - 1})")
            rooms[index].append(unique.get(user_id, Student(user_id, user_id)))
    return tuple(
        RoomPlan(label, tuple(members)) for label, members in zip(labels, rooms, strict=True)
    )
