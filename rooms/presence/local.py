"""Presence in this process's memory, for the embedded single node (no Redis server).

The same semantics as the Redis scripts (``rooms/presence/scripts/``), step for step, on plain
dicts and sets: each method runs without awaiting between its reads and its writes, which on
one event loop is what a script's atomicity gives on Redis. On fakeredis, the embedded default
before, every ``redis.call`` of the admission script went through fakeredis's whole command
machinery (about 0.7 ms of CPU per join); here an admission is a few dict operations.

The classes' waiting rooms, which the admission reads, are in process too
(:class:`rooms.waiting_room.LocalWaitingRoom`, the hub's through :attr:`waiting_room`). What
presence does not own stays in the Redis client (fakeredis on the embedded default): the
room's sequence and log, which :meth:`LocalPresence.forget_room` deletes there (or in
:class:`rooms.local_room_state.LocalRoomState`, the embedded default's).
Expiring hashes (why a participant left, resume tokens) expire on the monotonic clock, as
Redis's TTLs do; the entries' own expiry follows the presence clock.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import monotonic

from redis.asyncio import Redis

from rooms.local_room_state import LocalRoomState
from rooms.presence.base import Presence, refuse, room_full
from rooms.presence.entries import (
    Admission,
    Departure,
    PresenceEntry,
    ResumeSave,
    RoomSnapshot,
)
from rooms.waiting_room import LocalWaitingRoom

__all__ = ["LocalPresence"]

#: How long the reasons participants left are kept after the last one (the scripts' GONE_TTL).
GONE_TTL_SECONDS = 600.0


@dataclass(slots=True)
class _Expiring:
    """A hash whose whole key expires (Redis ``EXPIRE`` on a hash), read lazily."""

    items: dict[str, str] = field(default_factory=dict)
    until: float = 0.0

    def live(self) -> dict[str, str]:
        if self.items and monotonic() >= self.until:
            self.items.clear()
        return self.items

    def expire_in(self, seconds: float) -> None:
        self.until = monotonic() + seconds


@dataclass(slots=True)
class _Room:
    """One room's keys (``rooms/keys.py``'s room, members, owner, users, expiry, seats,
    hidden, bans, gone, publishers, resume), as the scripts keep them."""

    status: str | None = None
    capacity: int | None = None
    members: dict[str, PresenceEntry] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    expiry: dict[str, int] = field(default_factory=dict)
    seats: set[str] = field(default_factory=set)
    hidden: set[str] = field(default_factory=set)
    bans: set[str] = field(default_factory=set)
    publishers: set[str] = field(default_factory=set)
    gone: _Expiring = field(default_factory=_Expiring)
    resume: _Expiring = field(default_factory=_Expiring)

    @property
    def visible(self) -> int:
        return len(self.members) - len(self.hidden)

    def note_gone(self, pid: str, reason: str) -> None:
        self.gone.live()[pid] = reason
        self.gone.expire_in(GONE_TTL_SECONDS)

    def remove_member(self, pid: str, reason: str) -> PresenceEntry | None:
        entry = self.members.pop(pid, None)
        if entry is not None:
            self.note_gone(pid, reason)
        uid = self.owner.pop(pid, None)
        self.expiry.pop(pid, None)
        self.seats.discard(pid)
        self.hidden.discard(pid)
        if uid is not None and self.users.get(uid) == pid:
            del self.users[uid]
        return entry

    def expired(self, now: int) -> list[str]:
        """Participant ids whose expiry is at or before ``now``, in ``ZRANGEBYSCORE`` order."""
        due = [(at, pid) for pid, at in self.expiry.items() if at <= now]
        due.sort()
        return [pid for _, pid in due]

    def purge_expired(self, now: int) -> list[PresenceEntry]:
        purged = []
        for pid in self.expired(now):
            entry = self.remove_member(pid, "expired")
            if entry is not None:
                purged.append(entry)
        return purged

    def entries(self, leave_out: set[str]) -> list[PresenceEntry]:
        return sorted(
            (e for pid, e in self.members.items() if pid not in leave_out),
            key=lambda e: (e.joined_at_ms, e.participant_id),
        )


class LocalPresence(Presence):
    """Presence and capacity of every room, in this process (one node only).

    ``redis`` is the process's own client (fakeredis on the embedded default): it holds the
    room's sequence and log, which :meth:`forget_room` deletes, unless they are in process too
    (``room_state``, :mod:`rooms.local_room_state`; then it drops them there).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "lc",
        clock: Callable[[], float] = time.time,
        room_state: LocalRoomState | None = None,
    ) -> None:
        super().__init__(prefix=prefix, clock=clock)
        self._redis = redis
        self._room_state = room_state
        self._waiting_room = LocalWaitingRoom()
        self._rooms: dict[str, _Room] = {}
        # Nothing here outlives the process, and nothing else can lose it.
        self._epoch = secrets.token_hex(8).encode()

    @property
    def waiting_room(self) -> LocalWaitingRoom:
        return self._waiting_room

    def _room(self, session_id: str) -> _Room:
        room = self._rooms.get(session_id)
        if room is None:
            room = self._rooms[session_id] = _Room()
        return room

    def _read(self, session_id: str) -> _Room:
        """The room for reading: an unknown room reads as an empty one and is not kept."""
        return self._rooms.get(session_id) or _Room()

    async def load_room(
        self, session_id: str, status: str, capacity: int, banned: Sequence[str] = ()
    ) -> None:
        room = self._room(session_id)
        room.status, room.capacity = status, int(capacity)
        room.bans.update(banned)

    @staticmethod
    def _refusal(room: _Room, user_id: str) -> str | None:
        """The verdict that refuses before anything is purged: the checks' order is the
        admission script's."""
        if room.status is None:
            return "unknown"
        if room.status != "live":
            return f"not_live:{room.status}"
        if user_id in room.bans:
            return "banned"
        return None

    async def admit(
        self,
        session_id: str,
        entry: PresenceEntry,
        ttl_seconds: float,
        *,
        resume: ResumeSave | None = None,
        may_wait: bool = False,
    ) -> Admission:
        """See :meth:`Presence.admit`."""
        uid = entry.user_id
        room = self._room(session_id)
        waits = may_wait and self._waiting_room.holds_back(session_id, uid)
        verdict = self._refusal(room, uid) or ("wait" if waits else None)
        if verdict is not None:
            refuse(verdict, session_id)
        now = self.now_ms()
        capacity = room.capacity or 0
        purged = room.purge_expired(now)
        verdict, replaced = self._seat(room, entry, now + int(ttl_seconds * 1000), capacity)
        allowed = False
        if verdict != "full":
            if resume is not None:
                tokens = room.resume.live()
                tokens[resume.token] = entry.participant_id
                room.resume.expire_in(max(resume.ttl_seconds, 3600))
                if resume.replaces and resume.replaces != resume.token:
                    tokens.pop(resume.replaces, None)
            allowed = uid in room.publishers
        count, seats = room.visible, len(room.seats)
        await self._purged(session_id, purged)
        if verdict == "full":
            raise room_full(capacity)
        return Admission(
            entry=entry,
            count=count,
            seats=seats,
            capacity=capacity,
            rejoined=verdict == "again",
            replaced=replaced,
            purged=purged,
            publish_allowed=allowed,
        )

    @staticmethod
    def _seat(
        room: _Room, entry: PresenceEntry, expires: int, capacity: int
    ) -> tuple[str, PresenceEntry | None]:
        """Enter ``entry``: ``("again" | "ok" | "full", the entry it replaced)``."""
        pid, uid = entry.participant_id, entry.user_id
        previous = room.users.get(uid)
        if previous == pid:
            # The same participant again (REST heartbeat, or a resumed connection): refresh
            # its expiry and take its new entry (the node holding it may have changed).
            room.members[pid] = entry
            room.expiry[pid] = expires
            return "again", None
        if entry.takes_seat:
            seats = len(room.seats)
            if previous is not None and previous in room.seats:
                seats -= 1
            if seats >= capacity:
                return "full", None
        replaced = room.remove_member(previous, "replaced") if previous is not None else None
        room.members[pid] = entry
        room.gone.live().pop(pid, None)
        room.owner[pid] = uid
        room.users[uid] = pid
        room.expiry[pid] = expires
        if entry.takes_seat:
            room.seats.add(pid)
        if entry.hidden:
            room.hidden.add(pid)
        return "ok", replaced

    async def leave(self, session_id: str, participant_id: str) -> Departure:
        room = self._read(session_id)
        entry = room.remove_member(participant_id, "left")
        if entry is not None:
            self._rooms.setdefault(session_id, room)
        return Departure(entry=entry, count=room.visible, seats=len(room.seats))

    async def ban(self, session_id: str, user_id: str) -> Departure:
        room = self._room(session_id)
        room.bans.add(user_id)
        pid = room.users.get(user_id)
        entry = room.remove_member(pid, "banned") if pid is not None else None
        return Departure(entry=entry, count=room.visible, seats=len(room.seats))

    async def unban(self, session_id: str, user_id: str) -> None:
        self._read(session_id).bans.discard(user_id)

    async def is_banned(self, session_id: str, user_id: str) -> bool:
        return user_id in self._read(session_id).bans

    async def allow_publish(self, session_id: str, user_id: str, allowed: bool) -> None:
        if allowed:
            self._room(session_id).publishers.add(user_id)
        else:
            self._read(session_id).publishers.discard(user_id)

    async def purge(self, session_id: str) -> list[PresenceEntry]:
        purged = self._read(session_id).purge_expired(self.now_ms())
        await self._purged(session_id, purged)
        return purged

    async def refresh(
        self, session_id: str, participant_ids: Sequence[str], ttl_seconds: float
    ) -> list[str]:
        if not participant_ids:
            return []
        expires = self.now_ms() + int(ttl_seconds * 1000)
        expiry = self._read(session_id).expiry
        missing = []
        for pid in participant_ids:
            if pid in expiry:
                expiry[pid] = expires
            else:
                missing.append(pid)
        return missing

    async def gone(self, session_id: str, participant_ids: Sequence[str]) -> dict[str, str]:
        if not participant_ids:
            return {}
        reasons = self._read(session_id).gone.live()
        told = {pid: reasons.get(pid, "") for pid in participant_ids}
        for pid in participant_ids:
            reasons.pop(pid, None)
        return told

    async def close(self, session_id: str, status: str) -> list[PresenceEntry]:
        room = self._room(session_id)
        room.status = status
        entries = list(room.members.values())
        for pid in room.members:
            room.note_gone(pid, "ended")
        for part in (room.members, room.owner, room.users, room.expiry):
            part.clear()
        room.seats.clear()
        room.hidden.clear()
        return entries

    async def snapshot(self, session_id: str) -> RoomSnapshot:
        if self._on_purged is not None:
            await self.purge(session_id)
        room = self._read(session_id)
        gone = set(room.expired(self.now_ms()))
        return RoomSnapshot(
            status=room.status, capacity=room.capacity or 0, entries=room.entries(gone)
        )

    async def small_roster(
        self, session_id: str, at_most: int, *, purge: bool = True
    ) -> list[PresenceEntry] | None:
        if purge:
            await self.purge(session_id)
        room = self._read(session_id)
        if room.visible > at_most:
            return None
        gone = set() if purge else set(room.expired(self.now_ms()))
        return [e for e in room.entries(gone | room.hidden)]

    async def counts(self, session_ids: Sequence[str]) -> dict[str, int]:
        return {sid: self._read(sid).visible for sid in session_ids}

    async def entry(self, session_id: str, participant_id: str) -> PresenceEntry | None:
        return self._read(session_id).members.get(participant_id)

    async def participant_of(self, session_id: str, user_id: str) -> str | None:
        return self._read(session_id).users.get(user_id)

    async def tally(self, session_id: str) -> tuple[int, int]:
        room = self._read(session_id)
        return room.visible, len(room.seats)

    async def resume_target(self, session_id: str, token: str) -> str | None:
        return self._read(session_id).resume.live().get(token)

    async def drop_resume(self, session_id: str, token: str) -> None:
        self._read(session_id).resume.live().pop(token, None)

    async def epoch(self) -> bytes:
        return self._epoch

    async def forget_room(self, session_id: str) -> None:
        self._rooms.pop(session_id, None)
        if self._room_state is not None:
            self._room_state.forget(session_id)
        keys = self.keys(session_id)
        await self._redis.delete(keys.seq, keys.log)
