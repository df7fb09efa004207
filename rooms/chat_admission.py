"""A chat message's way into the room on Redis, in one step: the host's chat switch, the
sender's rate limit and the room's next sequence number.

Asked one by one (``rooms/chat_moderation.py``, ``rooms/ratelimit.py``, ``rooms/sequence.py``)
these are three round trips to Redis in a row, each on a pool connection of its own, before
the message may be stored: about 0.4 ms on the path of every chat message. Here they are one
script on the room's keys (one hash tag, so one Cluster slot), sent through the client's shared
:class:`~rooms.redis_batch.RedisBatch` (chat's lane, shared with the room log's writes: not
behind presence's pipelines), so the messages of a busy room also share round trips.

The answers are those of the three steps, in their order: a student finds chat off before
spending a token; a refused message spends no sequence number; the token bucket is the rate
limiter's own Lua (``BUCKET_TAKE_LUA``). A counter Redis lost is re-seeded from the store as
:class:`~rooms.sequence.SequenceAllocator` does, and the token is spent only once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis

from rooms.errors import Forbidden
from rooms.keys import RoomKeys
from rooms.ratelimit import BUCKET_TAKE_LUA, rate_limited
from rooms.redis_batch import RedisBatch

__all__ = ["ChatAdmission", "RedisChatAdmission", "chat_off"]

# KEYS: 1 chat switch (present: students may not chat), 2 the sender's bucket, 3 seq.
# ARGV: 1 guest ('1': the switch applies), 2 now ms, 3 rate /s ('' = no limit), 4 burst,
# 5 floor ('' = do not seed).
# Returns {0, seq}; {1} chat off; {2, ms} rate limited; {3} the counter is missing and no
# floor was given (nothing was spent: call again with one).
_ADMIT = (
    BUCKET_TAKE_LUA
    + """
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  return {1}
end
local seeded = redis.call('EXISTS', KEYS[3]) == 1
if not seeded and ARGV[5] == '' then
  return {3}
end
if ARGV[3] ~= '' then
  local wait = take(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
  if wait > 0 then
    return {2, wait}
  end
end
if not seeded then
  redis.call('SET', KEYS[3], ARGV[5])
end
return {0, redis.call('INCR', KEYS[3])}
"""
)


def chat_off() -> Forbidden:
    """The refusal of a student's message while the host has chat off."""
    return Forbidden("the teacher turned chat off for now", code="chat_off")


class ChatAdmission(Protocol):
    """The switch, rate limit and sequence number of a message in one step (Redis); without
    one, :class:`~rooms.chat.ChatService` asks its gate, limiter and sequence in turn."""

    async def admit(
        self, session_id: str, user_id: str, *, guest: bool, floor: Callable[[], Awaitable[int]]
    ) -> int: ...


class RedisChatAdmission:
    """The chat switch, rate limit and sequence number of a message in one script."""

    def __init__(
        self,
        redis: Redis,
        *,
        rate: float | None,
        burst: float,
        prefix: str = "lc",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._batch = RedisBatch.of(redis, lane="chat")
        self._script = redis.register_script(_ADMIT)
        self._rate = "" if rate is None else rate
        self._burst = burst
        self._prefix = prefix
        self._clock = clock

    async def admit(
        self, session_id: str, user_id: str, *, guest: bool, floor: Callable[[], Awaitable[int]]
    ) -> int:
        """The message's sequence number, or :class:`Forbidden` (``chat_off``: a ``guest``
        while the host has chat off) or :class:`RateLimited` (with ``retryAfter``).
        ``floor`` returns the highest number stored; called only when Redis lost the room's
        counter."""
        keys = RoomKeys(session_id, self._prefix)
        names = (keys.chat_off, keys.chat_rate(user_id), keys.seq)
        seed = ""
        while True:
            now = int(self._clock() * 1000)
            args = ("1" if guest else "0", now, self._rate, self._burst, seed)
            reply = await self._batch.script(self._script, names, args)
            match int(reply[0]):
                case 0:
                    return int(reply[1])
                case 1:
                    raise chat_off()
                case 2:
                    raise rate_limited(int(reply[1]))
                case _:
                    seed = str(await floor())
