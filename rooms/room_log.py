"""The room's reliable log: recent messages that must not be lost, by sequence number.

Chat, raised hands and recording state carry the room's ``seq``. Each such message is kept in
a sorted set (score = seq) capped at ``capacity`` entries, so a client that reconnects with the
last ``seq`` it holds gets every later message. Chat is also in the store, so history beyond
the log is still readable over REST.

A message is logged before it is published (a client that resumes finds in the log whatever it
may have missed live). :meth:`RoomLog.publish` does both; when the bus is Redis pub/sub on the
log's own client, as one script (logged, then published, in one step and one round trip,
through the client's :class:`~rooms.redis_batch.RedisBatch`, chat's lane) instead of a round trip
for each, on the path of every chat message before anyone receives it.
"""

from __future__ import annotations

from typing import Any

import msgpack
from redis.asyncio import Redis

from rooms.bus import RoomBus
from rooms.bus_events import RoomMessage
from rooms.bus_port import Bus
from rooms.keys import RoomKeys
from rooms.redis_batch import RedisBatch

__all__ = ["RoomLog"]

# KEYS: 1 the log. ARGV: 1 seq, 2 the packed message, 3 capacity, 4 ttl s, 5 the channel to
# publish ARGV[6] on once logged ('': none).
_APPEND = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[3]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
return 0
"""


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
        self._batch = RedisBatch.of(redis, lane="chat")
        self._append = redis.register_script(_APPEND)

    @property
    def redis(self) -> Redis:
        """The Redis the log lives in (the room's other switches live there too)."""
        return self._redis

    def _key(self, session_id: str) -> str:
        return RoomKeys(session_id, self._prefix).log

    async def append(self, session_id: str, seq: int, message: dict[str, Any]) -> None:
        await self._write(session_id, seq, message, "", b"")

    async def publish(self, session_id: str, seq: int, event: RoomMessage, bus: Bus) -> None:
        """Log ``event``'s message under ``seq``, then publish ``event`` on ``bus``; nothing is
        published when the log's write fails. One script when ``bus`` publishes on this log's
        Redis client (:meth:`RoomBus.script_publication`), else a write and a publication."""
        publication = None
        if isinstance(bus, RoomBus):
            publication = bus.script_publication(self._redis, event)
        if publication is None:
            await self.append(session_id, seq, event.message)
            await bus.publish(event)
            return
        await self._write(session_id, seq, event.message, *publication)

    async def _write(
        self, session_id: str, seq: int, message: dict[str, Any], channel: str, payload: bytes
    ) -> None:
        packed = msgpack.packb(message, use_bin_type=True)
        args = (seq, packed, self._capacity, self._ttl, channel, payload)
        await self._batch.script(self._append, (self._key(session_id),), args)

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
