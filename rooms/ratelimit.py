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

__all__ = ["ChatLimiter", "ChatRateLimit"]

# KEYS[1] the bucket (hash: t tokens, u updated ms). ARGV: now ms, rate /s, burst.
# Returns 0 when a token was taken, else the milliseconds until one is there.
_TAKE = """
local now, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(bucket[1]) or burst
local updated = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
"""


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
            raise RateLimited(
                "too many chat messages; slow down",
                details={"retryAfter": round(wait / 1000, 3)},
            )
