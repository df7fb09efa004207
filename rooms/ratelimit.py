"""Rate limits shared by every node and by every way in (Redis token buckets).

A user's chat messages in one session draw on one bucket, whether they come over REST or a
WebSocket and whichever node takes them: ``rate`` messages per second, ``burst`` saved up.
Each take is one atomic script on the room's keys (``rooms/keys.py``), so a flood spread over
nodes, paths or concurrent requests is counted once. A refusal says when to try again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

from rooms.errors import RateLimited
from rooms.keys import RoomKeys

__all__ = ["BUCKET_TAKE_LUA", "ChatLimiter", "ChatRateLimit", "rate_limited"]

#: Lua: ``take(key, now ms, rate /s, burst)`` spends a token of the bucket at ``key`` (hash: t
#: tokens, u updated ms): 0 when one was taken, else the milliseconds until one is there. Shared
#: with the chat's one-step admission (``rooms/chat_admission.py``), so the two count alike.
BUCKET_TAKE_LUA = """
local function take(key, now, rate, burst)
  local bucket = redis.call('HMGET', key, 't', 'u')
  local tokens = tonumber(bucket[1]) or burst
  local updated = tonumber(bucket[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - updated) * rate / 1000)
  local wait = 0
  if tokens >= 1 then
    tokens = tokens - 1
  else
    wait = math.ceil((1 - tokens) * 1000 / rate)
  end
  redis.call('HSET', key, 't', tostring(tokens), 'u', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
  return wait
end
"""

# KEYS[1] the bucket. ARGV: now ms, rate /s, burst.
_TAKE = (
    BUCKET_TAKE_LUA
    + "return take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))\n"
)


class ChatRateLimit(Protocol):
    """A chat rate limit: :class:`ChatLimiter` (Redis, every node) or
    :class:`rooms.local_room_state.LocalChatLimiter` (the embedded single node)."""

    async def take(self, session_id: str, user_id: str) -> None: ...


class ChatLimiter:
    """One chat token bucket per user and session, in Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        rate: float,
        burst: float,
        prefix: str = "lc",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._script = redis.register_script(_TAKE)
        self._rate = rate
        self._burst = burst
        self._prefix = prefix
        self._clock = clock

    async def take(self, session_id: str, user_id: str) -> None:
        """Spend one of ``user_id``'s chat tokens in the session, or raise
        :class:`RateLimited` with ``details.retryAfter`` (seconds)."""
        key = RoomKeys(session_id, self._prefix).chat_rate(user_id)
        now = int(self._clock() * 1000)
        wait = int(await self._script(keys=[key], args=[now, self._rate, self._burst]))
        if wait > 0:
            raise rate_limited(wait)


def rate_limited(wait_ms: int) -> RateLimited:
    """The refusal of a chat message with ``wait_ms`` to go until a token is there."""
    return RateLimited(
        "too many chat messages; slow down", details={"retryAfter": round(wait_ms / 1000, 3)}
    )
