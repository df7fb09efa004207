"""Per-room sequence numbers for reliable messages (chat, hands, recording state).

The counter lives in Redis (one INCR per message, shared by every node). If Redis lost it, the
next allocation seeds it from the highest sequence number the store holds, so numbers never
repeat for a room even across a Redis restart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Protocol

from redis.asyncio import Redis

from rooms.keys import RoomKeys
from rooms.redis_batch import RedisBatch

__all__ = ["RoomSequence", "SequenceAllocator"]

_RAISE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 0
"""

_SOURCE = resources.files("rooms.presence").joinpath("scripts", "next_seq.lua").read_text()


class RoomSequence(Protocol):
    """Per-room sequence numbers: :class:`SequenceAllocator` (Redis, every node) or
    :class:`rooms.local_room_state.LocalSequence` (the embedded single node)."""

    async def current(self, session_id: str) -> int: ...

    async def begin(self, session_id: str) -> None: ...

    async def raise_to(self, session_id: str, value: int) -> None: ...

    async def next(self, session_id: str, floor: Callable[[], Awaitable[int]]) -> int: ...


class SequenceAllocator:
    def __init__(self, redis: Redis, *, prefix: str = "lc") -> None:
        self._redis = redis
        # shared with presence: a join storm's admissions and counter reads share round trips
        self._batch = RedisBatch.of(redis)
        self._script = redis.register_script(_SOURCE)
        self._raise = redis.register_script(_RAISE)
        self._prefix = prefix

    async def current(self, session_id: str) -> int:
        """The last number handed out for ``session_id`` (0 if none, or if Redis lost it)."""
        value = await self._batch.command("GET", RoomKeys(session_id, self._prefix).seq)
        return int(value) if value is not None else 0

    async def begin(self, session_id: str) -> None:
        """A room that starts now has handed out no number yet: its counter is set to 0
        (kept if it exists), so its first message need not ask the store for a floor."""
        await self._batch.command("SET", RoomKeys(session_id, self._prefix).seq, 0, "NX")

    async def raise_to(self, session_id: str, value: int) -> None:
        """Make sure the next number is above ``value`` (after Redis lost the counter, a node
        that saw higher numbers than the store holds, say of raised hands, puts them back)."""
        key = RoomKeys(session_id, self._prefix).seq
        await self._raise(keys=[key], args=[value])

    async def next(self, session_id: str, floor: Callable[[], Awaitable[int]]) -> int:
        """The next number for ``session_id``; ``floor`` returns the highest one already
        stored and is called only when the counter must be re-seeded."""
        key = RoomKeys(session_id, self._prefix).seq
        value = await self._script(keys=[key], args=[""])
        if value is None:
            value = await self._script(keys=[key], args=[str(await floor())])
        return int(value)
