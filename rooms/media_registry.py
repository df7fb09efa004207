"""Media workers in Redis: who is alive, how loaded, and which worker serves which room.

Every ``liveclass media`` worker heartbeats (``heartbeat``) every few seconds; a worker not
seen for ``ttl_seconds`` is dead. :meth:`MediaRegistry.place` puts a room on the least-loaded
live worker, atomically (one Lua script), and keeps it there while that worker lives; when it
dies, the next call moves the room to another worker (whose clients then renegotiate).

Keys (all under the ``{media}`` hash tag, so the script runs on one Redis Cluster slot):

=========================  ======  ====================================================
``lc:{media}:alive``       zset    worker id → last heartbeat (ms since epoch)
``lc:{media}:load``        hash    worker id → rooms placed on it
``lc:{media}:rooms``       hash    session id → worker id
``lc:media:{worker}``      channel events for one worker (signals, joins, leaves)
=========================  ======  ====================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources

from redis.asyncio import Redis

__all__ = ["MediaRegistry"]

_PLACE = resources.files("rooms.media_scripts").joinpath("place.lua").read_text()


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
        self._prefix = prefix
        self._ttl_ms = int(ttl_seconds * 1000)
        self._clock = clock
        self._place = redis.register_script(_PLACE)

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{{media}}:{name}"

    def worker_channel(self, worker_id: str) -> str:
        return f"{self._prefix}:media:{{{worker_id}}}"

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def heartbeat(self, worker_id: str) -> None:
        """Announce that ``worker_id`` is alive (call every ttl/3 seconds)."""
        await self._redis.zadd(self._key("alive"), {worker_id: self._now_ms()})

    async def retire(self, worker_id: str) -> None:
        """A worker stopping cleanly: no room is placed on it any more."""
        await self._redis.zrem(self._key("alive"), worker_id)

    async def alive(self) -> list[str]:
        since = self._now_ms() - self._ttl_ms
        raw = await self._redis.zrangebyscore(self._key("alive"), since, "+inf")
        return [_text(w) for w in raw]

    async def place(self, session_id: str) -> str | None:
        """The worker serving ``session_id`` (placing it now if needed), or None when no
        worker is alive."""
        keys = [self._key("alive"), self._key("load"), self._key("rooms")]
        worker = await self._place(keys=keys, args=[session_id, self._now_ms(), self._ttl_ms])
        return _text(worker) if worker else None

    async def worker_of(self, session_id: str) -> str | None:
        """The worker a room is placed on now, if any (no placement happens)."""
        raw = await self._redis.hget(self._key("rooms"), session_id)
        return _text(raw) if raw else None

    async def release(self, session_id: str) -> None:
        """The room ended: free its place."""
        worker = await self.worker_of(session_id)
        if worker is None:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._key("rooms"), session_id)
            pipe.hincrby(self._key("load"), worker, -1)
            await pipe.execute()
