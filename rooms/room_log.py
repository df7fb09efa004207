"""The room's reliable log: recent messages that must not be lost, by sequence number.

Chat, raised hands and recording state carry the room's ``seq``. Each such message is kept in
a sorted set (score = seq) capped at ``capacity`` entries, so a client that reconnects with the
last ``seq`` it holds gets every later message. Chat is also in the store, so history beyond
the log is still readable over REST.
"""

from __future__ import annotations

from typing import Any

import msgpack
from redis.asyncio import Redis

from rooms.keys import RoomKeys

__all__ = ["RoomLog"]


class RoomLog:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "lc",
        capacity: int = 2000,
        ttl_seconds: int = 24 * 3600,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._capacity = capacity
        self._ttl = ttl_seconds

    @property
    def redis(self) -> Redis:
        """The Redis the log lives in (the room's other switches live there too)."""
        return self._redis

    def _key(self, session_id: str) -> str:
        return RoomKeys(session_id, self._prefix).log

    async def append(self, session_id: str, seq: int, message: dict[str, Any]) -> None:
        key = self._key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {msgpack.packb(message, use_bin_type=True): seq})
            pipe.zremrangebyrank(key, 0, -self._capacity - 1)
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def replace(self, session_id: str, seq: int, message: dict[str, Any]) -> None:
        """Put ``message`` in place of the one with ``seq`` (a deleted chat message is
        replayed as its tombstone: the log keeps no gap, which would stop every replay).
        Nothing happens when the log no longer holds ``seq`` (a tombstone below the oldest
        entry would make a replay from there look complete)."""
        key = self._key(session_id)
        if not await self._redis.zcount(key, seq, seq):
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, seq, seq)
            pipe.zadd(key, {msgpack.packb(message, use_bin_type=True): seq})
            await pipe.execute()

    async def since(self, session_id: str, seq: int) -> list[dict[str, Any]]:
        """Every logged message with a sequence number above ``seq``, in order."""
        raw = await self._redis.zrangebyscore(self._key(session_id), f"({seq}", "+inf")
        return [msgpack.unpackb(item, raw=False) for item in raw]

    async def oldest(self, session_id: str) -> int | None:
        """The lowest sequence number still in the log (older ones were trimmed)."""
        first = await self._redis.zrange(self._key(session_id), 0, 0, withscores=True)
        return int(first[0][1]) if first else None
