"""A class's waiting room: in Redis (:class:`RedisWaitingRoom`: every node and the REST side
see the same), or in this process (:class:`LocalWaitingRoom`, the embedded single node, beside
:class:`rooms.presence.LocalPresence`, whose admission reads it as the Redis admission script
reads the keys).

While it is on (``lc:{sid}:waitroom``), a student who joins waits (``lc:{sid}:waiting``: one
:class:`Waiter` per waiting connection, with the node that holds it) until the host lets
them in or refuses them. Those let in are remembered (``lc:{sid}:letin``): a reload or a
reconnect of theirs does not wait again. Waiting takes no seat and is not presence; a
student let in is seated by the ordinary admission (capacity, bans), so a waiting room never
lets a class overflow.

Taking waiters out (:meth:`WaitingRoom.take`) is ``HDEL`` per waiter: of two hosts deciding
on the same student at once (two nodes), only one takes them.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from redis.asyncio import Redis

from rooms.keys import RoomKeys

__all__ = ["MAX_WAITING", "LocalWaitingRoom", "RedisWaitingRoom", "Waiter", "WaitingRoom"]

#: How long the switch and the let-in list are kept (set before a class of the coming week).
TTL_SECONDS = 7 * 24 * 3600
#: Waiting connections one class keeps at most (more are refused with ``waiting_room_full``).
MAX_WAITING = 1000


@dataclass(frozen=True, slots=True)
class Waiter:
    """One waiting connection: ``id`` is the waiter's (not a participant id; they have none
    yet), ``node`` the node that holds their connection, ``since_ms`` when they came."""

    id: str
    user_id: str
    name: str
    node: str
    since_ms: int

    def view(self) -> dict[str, Any]:
        """As hosts see it in ``waiting-list`` and over REST."""
        return {"id": self.id, "userId": self.user_id, "name": self.name, "since": self.since_ms}

    def dump(self) -> str:
        return json.dumps(
            {"i": self.id, "u": self.user_id, "n": self.name, "o": self.node, "t": self.since_ms}
        )

    @classmethod
    def load(cls, raw: str | bytes) -> Waiter:
        d = json.loads(raw)
        return cls(str(d["i"]), str(d["u"]), str(d["n"]), str(d["o"]), int(d["t"]))


class WaitingRoom(ABC):
    """The waiting room of every class (one implementation per presence: see the module)."""

    @abstractmethod
    async def enabled(self, session_id: str) -> bool:
        """Whether students wait to be let in."""

    @abstractmethod
    async def set_enabled(self, session_id: str, enabled: bool) -> None:
        """Turn the waiting room on or off (off does not let anyone in by itself: the caller
        lets the waiting in, see ``signaling/waiting_room.py``)."""

    @abstractmethod
    async def must_wait(self, session_id: str, user_id: str) -> bool:
        """Whether a student joining now waits: the room is on and they were not let in."""

    @abstractmethod
    async def add(self, session_id: str, waiter: Waiter) -> bool:
        """Put ``waiter`` on the list; False when :data:`MAX_WAITING` are waiting already."""

    @abstractmethod
    async def remove(self, session_id: str, waiter_id: str) -> bool:
        """Take ``waiter_id`` off the list (they left); False if no longer on it."""

    @abstractmethod
    async def waiting(self, session_id: str) -> list[Waiter]:
        """Everyone waiting, the longest-waiting first."""

    @abstractmethod
    async def take(self, session_id: str, ids: list[str] | None, *, let_in: bool) -> list[Waiter]:
        """Take the waiters ``ids`` (everyone without ``ids``) off the list and return those
        this call took (another host's concurrent decision may have taken some); with
        ``let_in`` their users are remembered as let in before this returns, so that their
        join (which follows the decision) does not wait again."""


class RedisWaitingRoom(WaitingRoom):
    """The waiting room of every class, in Redis (the keys the admission script reads)."""

    def __init__(self, redis: Redis, *, prefix: str = "lc") -> None:
        self._redis = redis
        self._prefix = prefix

    def _keys(self, session_id: str) -> RoomKeys:
        return RoomKeys(session_id, self._prefix)

    async def enabled(self, session_id: str) -> bool:
        return bool(await self._redis.exists(self._keys(session_id).waiting_room))

    async def set_enabled(self, session_id: str, enabled: bool) -> None:
        key = self._keys(session_id).waiting_room
        if enabled:
            await self._redis.set(key, b"1", ex=TTL_SECONDS)
        else:
            await self._redis.delete(key)

    async def must_wait(self, session_id: str, user_id: str) -> bool:
        keys = self._keys(session_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.waiting_room)
            pipe.sismember(keys.let_in, user_id)
            on, let_in = await pipe.execute()
        return bool(on) and not let_in

    async def add(self, session_id: str, waiter: Waiter) -> bool:
        key = self._keys(session_id).waiting
        if await self._redis.hlen(key) >= MAX_WAITING:
            return False
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, waiter.id, waiter.dump())
            pipe.expire(key, TTL_SECONDS)
            await pipe.execute()
        return True

    async def remove(self, session_id: str, waiter_id: str) -> bool:
        return bool(await self._redis.hdel(self._keys(session_id).waiting, waiter_id))

    async def waiting(self, session_id: str) -> list[Waiter]:
        raw = await self._redis.hvals(self._keys(session_id).waiting)
        return sorted((Waiter.load(r) for r in raw), key=lambda w: (w.since_ms, w.id))

    async def take(self, session_id: str, ids: list[str] | None, *, let_in: bool) -> list[Waiter]:
        keys = self._keys(session_id)
        if ids is None:
            candidates = await self.waiting(session_id)
        else:
            found = await self._redis.hmget(keys.waiting, ids) if ids else []
            candidates = [Waiter.load(r) for r in found if r is not None]
        if not candidates:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for waiter in candidates:
                pipe.hdel(keys.waiting, waiter.id)
            removed = await pipe.execute()
        taken = [w for w, gone in zip(candidates, removed, strict=True) if gone]
        if let_in and taken:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.sadd(keys.let_in, *{w.user_id for w in taken})
                pipe.expire(keys.let_in, TTL_SECONDS)
                await pipe.execute()
        return taken


@dataclass(slots=True)
class _Class:
    """One class's waiting room in memory; each part expires as its Redis key would
    (:data:`TTL_SECONDS` after it was last set), on the monotonic clock as Redis's TTLs."""

    on_until: float = 0.0
    waiting: dict[str, Waiter] = field(default_factory=dict)
    waiting_until: float = 0.0
    let_in: set[str] = field(default_factory=set)
    let_in_until: float = 0.0

    def live_waiting(self) -> dict[str, Waiter]:
        if self.waiting and monotonic() >= self.waiting_until:
            self.waiting.clear()
        return self.waiting

    def live_let_in(self) -> set[str]:
        if self.let_in and monotonic() >= self.let_in_until:
            self.let_in.clear()
        return self.let_in


class LocalWaitingRoom(WaitingRoom):
    """The waiting room of every class, in this process (one node only)."""

    def __init__(self) -> None:
        self._classes: dict[str, _Class] = {}

    def _class(self, session_id: str) -> _Class:
        found = self._classes.get(session_id)
        if found is None:
            found = self._classes[session_id] = _Class()
        return found

    def _read(self, session_id: str) -> _Class:
        return self._classes.get(session_id) or _Class()

    def holds_back(self, session_id: str, user_id: str) -> bool:
        """:meth:`must_wait` without awaiting (the in-process admission decides it in the
        same step as the rest)."""
        room = self._read(session_id)
        return monotonic() < room.on_until and user_id not in room.live_let_in()

    async def enabled(self, session_id: str) -> bool:
        return monotonic() < self._read(session_id).on_until

    async def set_enabled(self, session_id: str, enabled: bool) -> None:
        if enabled:
            self._class(session_id).on_until = monotonic() + TTL_SECONDS
        else:
            self._read(session_id).on_until = 0.0

    async def must_wait(self, session_id: str, user_id: str) -> bool:
        return self.holds_back(session_id, user_id)

    async def add(self, session_id: str, waiter: Waiter) -> bool:
        room = self._class(session_id)
        waiting = room.live_waiting()
        if len(waiting) >= MAX_WAITING:
            return False
        waiting[waiter.id] = waiter
        room.waiting_until = monotonic() + TTL_SECONDS
        return True

    async def remove(self, session_id: str, waiter_id: str) -> bool:
        return self._read(session_id).live_waiting().pop(waiter_id, None) is not None

    async def waiting(self, session_id: str) -> list[Waiter]:
        waiters = self._read(session_id).live_waiting().values()
        return sorted(waiters, key=lambda w: (w.since_ms, w.id))

    async def take(self, session_id: str, ids: list[str] | None, *, let_in: bool) -> list[Waiter]:
        room = self._read(session_id)
        waiting = room.live_waiting()
        wanted = [w.id for w in await self.waiting(session_id)] if ids is None else ids
        taken = [w for w in (waiting.pop(i, None) for i in wanted) if w is not None]
        if let_in and taken:
            room = self._class(session_id)
            room.live_let_in().update(w.user_id for w in taken)
            room.let_in_until = monotonic() + TTL_SECONDS
        return taken
