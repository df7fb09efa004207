"""A class's waiting room, in Redis (every node and the REST side see the same).

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
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from rooms.keys import RoomKeys

__all__ = ["MAX_WAITING", "Waiter", "WaitingRoom"]

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


class WaitingRoom:
    def __init__(self, redis: Redis, *, prefix: str = "lc") -> None:
        self._redis = redis
        self._prefix = prefix

    def _keys(self, session_id: str) -> RoomKeys:
        return RoomKeys(session_id, self._prefix)

    async def enabled(self, session_id: str) -> bool:
        """Whether students wait to be let in."""
        return bool(await self._redis.exists(self._keys(session_id).waiting_room))

    async def set_enabled(self, session_id: str, enabled: bool) -> None:
        """Turn the waiting room on or off (off does not let anyone in by itself: the caller
        lets the waiting in, see ``signaling/waiting_room.py``)."""
        key = self._keys(session_id).waiting_room
        if enabled:
            await self._redis.set(key, b"1", ex=TTL_SECONDS)
        else:
            await self._redis.delete(key)

    async def must_wait(self, session_id: str, user_id: str) -> bool:
        """Whether a student joining now waits: the room is on and they were not let in."""
        keys = self._keys(session_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.waiting_room)
            pipe.sismember(keys.let_in, user_id)
            on, let_in = await pipe.execute()
        return bool(on) and not let_in

    async def add(self, session_id: str, waiter: Waiter) -> bool:
        """Put ``waiter`` on the list; False when :data:`MAX_WAITING` are waiting already."""
        key = self._keys(session_id).waiting
        if await self._redis.hlen(key) >= MAX_WAITING:
            return False
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, waiter.id, waiter.dump())
            pipe.expire(key, TTL_SECONDS)
            await pipe.execute()
        return True

    async def remove(self, session_id: str, waiter_id: str) -> bool:
        """Take ``waiter_id`` off the list (they left); False if no longer on it."""
        return bool(await self._redis.hdel(self._keys(session_id).waiting, waiter_id))

    async def waiting(self, session_id: str) -> list[Waiter]:
        """Everyone waiting, the longest-waiting first."""
        raw = await self._redis.hvals(self._keys(session_id).waiting)
        return sorted((Waiter.load(r) for r in raw), key=lambda w: (w.since_ms, w.id))

    async def take(self, session_id: str, ids: list[str] | None, *, let_in: bool) -> list[Waiter]:
        """Take the waiters ``ids`` (everyone without ``ids``) off the list and return those
        this call took (another host's concurrent decision may have taken some); with
        ``let_in`` their users are remembered as let in before this returns, so that their
        join (which follows the decision) does not wait again."""
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
