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

from dataclasses import dataclass
from typing import Any

import msgpack
from redis.asyncio import Redis

from rooms.bus import RoomBus
from rooms.bus_events import RoomMessage
from rooms.bus_port import Bus
from rooms.keys import RoomKeys
from rooms.redis_batch import RedisBatch

__all__ = ["APPEND_LUA", "RoomLog", "ScriptedAppend"]

#: Lua: ``append(key, seq, packed, capacity, ttl, channel, payload)`` logs ``packed`` under
#: ``seq`` in the log at ``key`` (capped, expiring) and then publishes ``payload`` on ``channel``
#: ('': none). Shared by the log's own script and chat's admission (``rooms/chat_admission.py``).
APPEND_LUA = """
local function append(key, seq, packed, capacity, ttl, channel, payload)
  redis.call('ZADD', key, seq, packed)
  redis.call('ZREMRANGEBYRANK', key, 0, -tonumber(capacity) - 1)
  redis.call('EXPIRE', key, ttl)
  if channel ~= '' then
    redis.call('PUBLISH', channel, payload)
  end
end
"""

# KEYS: 1 the log. ARGV: 1 seq, 2 the packed message, 3 capacity, 4 ttl s, 5 the channel to
# publish ARGV[6] on once logged ('': none).
_APPEND = (
    APPEND_LUA
    + """
append(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 0
"""
)


@dataclass(frozen=True, slots=True)
class ScriptedAppend:
    """A message logged and published by a script of someone else's (``APPEND_LUA``'s
    arguments but the number): ``packed`` for the log at ``key``, ``payload`` for
    ``channel``."""

    key: str
    packed: bytes
    capacity: int
    ttl: int
    channel: str
    payload: bytes


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
        packed = msgpack.packb(message, use_bin_type=True)
        key = self._key(session_id)
        await self._run(seq, ScriptedAppend(key, packed, self._capacity, self._ttl, "", b""))

    async def publish(self, session_id: str, seq: int, event: RoomMessage, bus: Bus) -> None:
        """Log ``event``'s message under ``seq``, then publish ``event`` on ``bus``; nothing is
        published when the log's write fails. One script when ``bus`` publishes on this log's
        Redis client (:meth:`RoomBus.script_publication`), else a write and a publication."""
        scripted = self.scripted(session_id, event, bus)
        if scripted is None:
            await self.append(session_id, seq, event.message)
            await bus.publish(event)
            return
        await self._run(seq, scripted)

    def scripted(self, session_id: str, event: RoomMessage, bus: Bus) -> ScriptedAppend | None:
        """What a script on this log's Redis needs to log ``event``'s message and publish
        ``event`` on ``bus`` as :meth:`publish` would; None where one script cannot do both
        (another bus or client, sharded pub/sub, a cluster: see
        :meth:`RoomBus.script_publication`)."""
        if not isinstance(bus, RoomBus):
            return None
        publication = bus.script_publication(self._redis, event)
        if publication is None:
            return None
        packed = msgpack.packb(event.message, use_bin_type=True)
        channel, payload = publication
        key = self._key(session_id)
        return ScriptedAppend(key, packed, self._capacity, self._ttl, channel, payload)

    async def _run(self, seq: int, scripted: ScriptedAppend) -> None:
        args = (seq, scripted.packed, scripted.capacity, scripted.ttl)
        publication = (scripted.channel, scripted.payload)
        await self._batch.script(self._append, (scripted.key,), (*args, *publication))

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
