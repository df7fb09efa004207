"""Media workers in Redis: who is alive, how loaded, and which worker serves which room.

Every ``liveclass media`` worker heartbeats (``heartbeat``) every few seconds; a worker not
seen for ``ttl_seconds`` is dead. :meth:`MediaRegistry.place` puts a room on the least-loaded
live worker, atomically (one Lua script), and keeps it there while that worker lives; when it
dies, the next call moves the room to another worker (whose clients then renegotiate). That
worker is the room's *origin*: its publishers send there.

A big room spreads over several workers: :meth:`MediaRegistry.assign` gives each participant
the worker that sends them the room's media, the origin while it has fewer participants than
its capacity, else a *relay* worker (which receives the room's tracks from the origin and
forwards them to its own participants), so no worker carries more than it can while any has
room. A worker's capacity is what it measured it can carry (it publishes the figure with
each heartbeat; the origin passes its current one to :meth:`MediaRegistry.assign`), never
more than the configured ``cap``.

Its keys (``rooms.keys.MediaKeys``, listed in ``rooms/keys.py``) all carry the ``{media}`` hash
tag, so every script runs on one Redis Cluster slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources

from redis.asyncio import Redis

from rooms.keys import Channels, MediaKeys
from rooms.redis_client import channel_prefix

__all__ = ["MediaRegistry"]

_SCRIPTS = resources.files("rooms.media_scripts")
_PLACE = _SCRIPTS.joinpath("place.lua").read_text()
_ASSIGN = _SCRIPTS.joinpath("assign.lua").read_text()
_UNASSIGN = _SCRIPTS.joinpath("unassign.lua").read_text()
_RELEASE = _SCRIPTS.joinpath("release.lua").read_text()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class MediaRegistry:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "lc",
        ttl_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._keys = MediaKeys(prefix)
        self._channels = Channels(channel_prefix(redis, prefix))
        self._ttl_ms = int(ttl_seconds * 1000)
        self._clock = clock
        self._place = redis.register_script(_PLACE)
        self._assign = redis.register_script(_ASSIGN)
        self._unassign = redis.register_script(_UNASSIGN)
        self._release = redis.register_script(_RELEASE)

    def worker_channel(self, worker_id: str) -> str:
        return self._channels.media_worker(worker_id)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def heartbeat(self, worker_id: str, *, capacity: int | None = None) -> None:
        """Announce that ``worker_id`` is alive (call every ttl/3 seconds), and how many
        participants it can carry now (None: only the configured cap bounds it)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._keys.alive, {worker_id: self._now_ms()})
            if capacity is None:
                pipe.hdel(self._keys.caps, worker_id)
            else:
                pipe.hset(self._keys.caps, worker_id, capacity)
            await pipe.execute()

    async def retire(self, worker_id: str) -> None:
        """A worker stopping cleanly: no room is placed on it any more."""
        await self._redis.zrem(self._keys.alive, worker_id)
        await self._redis.hdel(self._keys.caps, worker_id)

    async def alive(self) -> list[str]:
        since = self._now_ms() - self._ttl_ms
        raw = await self._redis.zrangebyscore(self._keys.alive, since, "+inf")
        return [_text(w) for w in raw]

    async def place(self, session_id: str) -> str | None:
        """The worker serving ``session_id`` (placing it now if needed), or None when no
        worker is alive."""
        keys = [self._keys.alive, self._keys.load, self._keys.rooms]
        worker = await self._place(keys=keys, args=[session_id, self._now_ms(), self._ttl_ms])
        return _text(worker) if worker else None

    async def worker_of(self, session_id: str) -> str | None:
        """The worker a room is placed on now, if any (no placement happens)."""
        raw = await self._redis.hget(self._keys.rooms, session_id)
        return _text(raw) if raw else None

    async def workers_of(self, session_ids: list[str]) -> dict[str, str | None]:
        """The origin worker of each room (None: not placed), in one round trip."""
        if not session_ids:
            return {}
        raw = await self._redis.hmget(self._keys.rooms, session_ids)
        return {sid: _text(w) if w else None for sid, w in zip(session_ids, raw, strict=True)}

    async def assignments(self, session_id: str, participant_ids: list[str]) -> dict[str, str]:
        """The assigned worker of each of ``participant_ids`` that has one."""
        if not participant_ids:
            return {}
        raw = await self._redis.hmget(self._keys.assign(session_id), participant_ids)
        return {pid: _text(w) for pid, w in zip(participant_ids, raw, strict=True) if w}

    async def placed_count(self) -> int:
        """How many rooms are placed on a worker now (a metric)."""
        return int(await self._redis.hlen(self._keys.rooms))

    async def release(self, session_id: str) -> None:
        """The room ended: free its place, and every participant's."""
        keys = [
            self._keys.load,
            self._keys.rooms,
            self._keys.subs,
            self._keys.assign(session_id),
            self._keys.relays(session_id),
        ]
        await self._release(keys=keys, args=[session_id])

    async def assign(
        self, session_id: str, participant_id: str, *, cap: int, origin_capacity: int | None = None
    ) -> str | None:
        """The worker that sends the room's media to ``participant_id`` (choosing it now if
        needed; see the module docstring), or None when the room has no live origin.

        ``cap``: the most participants any worker carries; ``origin_capacity``: what the
        room's origin (the caller) measured it can carry now (other workers' capacities come
        from their heartbeats)."""
        keys = [
            self._keys.alive,
            self._keys.rooms,
            self._keys.subs,
            self._keys.assign(session_id),
            self._keys.relays(session_id),
            self._keys.caps,
        ]
        own = cap if origin_capacity is None else min(cap, origin_capacity)
        args: list[str | int] = [
            session_id,
            participant_id,
            self._now_ms(),
            self._ttl_ms,
            cap,
            own,
        ]
        worker = await self._assign(keys=keys, args=args)
        return _text(worker) if worker else None

    async def assignment(self, session_id: str, participant_id: str) -> str | None:
        """The worker sending media to ``participant_id`` now, if any (no choice is made)."""
        raw = await self._redis.hget(self._keys.assign(session_id), participant_id)
        return _text(raw) if raw else None

    async def unassign(self, session_id: str, participant_id: str) -> str | None:
        """The participant left: free their place; returns the worker that served them."""
        keys = [self._keys.subs, self._keys.assign(session_id)]
        worker = await self._unassign(keys=keys, args=[participant_id])
        return _text(worker) if worker else None

    async def relays(self, session_id: str) -> set[str]:
        """The workers relaying a room, besides its origin."""
        return {_text(w) for w in await self._redis.smembers(self._keys.relays(session_id))}

    async def subscribers_of(self, worker_id: str) -> int:
        """How many participants ``worker_id`` sends media to."""
        raw = await self._redis.hget(self._keys.subs, worker_id)
        return int(raw or 0)
