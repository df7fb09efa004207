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

:meth:`RedisChatAdmission.admit_and_append` goes one step further: the same script also logs
the message and publishes it to the room (``rooms/room_log.py``'s ``APPEND_LUA``), so a frame
reaches the fan-out in one round trip. The message is packed before its number exists, with
:data:`SEQ_PLACEHOLDER` as its ``seq``: a fixed-width MessagePack integer the script replaces
with the number it hands out, in the logged message and in the published payload alike. Nothing
else in a message can hold those bytes (strings are UTF-8, which has no 0xFF byte). As the
numbers are handed out and published in one step, the room receives chat in its order.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from rooms.errors import Forbidden
from rooms.keys import RoomKeys
from rooms.ratelimit import BUCKET_TAKE_LUA, rate_limited
from rooms.redis_batch import RedisBatch
from rooms.room_log import APPEND_LUA, ScriptedAppend

__all__ = ["SEQ_PLACEHOLDER", "ChatAdmission", "RedisChatAdmission", "chat_off"]

#: The ``seq`` of a message packed before its number is known: MessagePack writes it as
#: 0xCF and eight 0xFF bytes, which the admission script replaces with the number (0xCF and its
#: eight bytes: the same width, so nothing around it moves).
SEQ_PLACEHOLDER = 2**64 - 1
_PACKED_PLACEHOLDER = b"\xcf" + b"\xff" * 8

# KEYS: 1 chat switch (present: students may not chat), 2 the sender's bucket, 3 seq.
# ARGV: 1 guest ('1': the switch applies), 2 now ms, 3 rate /s ('' = no limit), 4 burst,
# 5 floor ('' = do not seed).
# admit() returns {0, seq}; {1} chat off; {2, ms} rate limited; {3} the counter is missing
# and no floor was given (nothing was spent: call again with one).
_ADMIT_LUA = (
    BUCKET_TAKE_LUA
    + """
local function admit()
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
end
"""
)
_ADMIT = _ADMIT_LUA + "return admit()\n"

# As _ADMIT, and once admitted, the message logged and published with its number in place of
# the placeholder. KEYS: 4 the log. ARGV: 6 the packed message, 7 capacity, 8 ttl s,
# 9 channel, 10 payload.
_ADMIT_AND_APPEND = (
    _ADMIT_LUA
    + APPEND_LUA
    + """
local placeholder = '\\207' .. string.rep('\\255', 8)
local function stamp(packed, number)
  local at = string.find(packed, placeholder, 1, true)
  return string.sub(packed, 1, at - 1) .. number .. string.sub(packed, at + 9)
end
local reply = admit()
if reply[1] == 0 then
  local bytes, rest = {}, reply[2]
  for i = 8, 1, -1 do
    bytes[i] = string.char(rest % 256)
    rest = math.floor(rest / 256)
  end
  local number = '\\207' .. table.concat(bytes)
  append(KEYS[4], reply[2], stamp(ARGV[6], number), ARGV[7], ARGV[8], ARGV[9],
    stamp(ARGV[10], number))
end
return reply
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

    async def admit_and_append(
        self,
        session_id: str,
        user_id: str,
        *,
        guest: bool,
        floor: Callable[[], Awaitable[int]],
        append: ScriptedAppend,
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
        self._script_and_append = redis.register_script(_ADMIT_AND_APPEND)
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
        return await self._run(self._script, names, (), guest=guest, floor=floor)

    async def admit_and_append(
        self,
        session_id: str,
        user_id: str,
        *,
        guest: bool,
        floor: Callable[[], Awaitable[int]],
        append: ScriptedAppend,
    ) -> int:
        """As :meth:`admit`, and in the same step the admitted message logged and published
        (``append``, from :meth:`RoomLog.scripted <rooms.room_log.RoomLog.scripted>`, of a
        message whose ``seq`` is :data:`SEQ_PLACEHOLDER`) with its number; a refused one
        is neither. ``append``'s log must be this room's, on this Redis."""
        for packed in (append.packed, append.payload):
            if packed.count(_PACKED_PLACEHOLDER) != 1:
                raise ValueError("the message's seq must be SEQ_PLACEHOLDER, once")
        keys = RoomKeys(session_id, self._prefix)
        names = (keys.chat_off, keys.chat_rate(user_id), keys.seq, append.key)
        args = (append.packed, append.capacity, append.ttl, append.channel, append.payload)
        return await self._run(self._script_and_append, names, args, guest=guest, floor=floor)

    async def _run(
        self,
        script: AsyncScript,
        keys: tuple[str, ...],
        more: tuple[str | int | bytes, ...],
        *,
        guest: bool,
        floor: Callable[[], Awaitable[int]],
    ) -> int:
        seed = ""
        while True:
            now = int(self._clock() * 1000)
            args = ("1" if guest else "0", now, self._rate, self._burst, seed)
            reply = await self._batch.script(script, keys, (*args, *more))
            match int(reply[0]):
                case 0:
                    return int(reply[1])
                case 1:
                    raise chat_off()
                case 2:
                    raise rate_limited(int(reply[1]))
                case _:
                    seed = str(await floor())
