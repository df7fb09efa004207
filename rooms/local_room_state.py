"""The room's sequence, chat switch, chat rate limits and reliable log in this process's memory,
for the embedded single node (no Redis server).

The same semantics as the Redis versions (:class:`~rooms.sequence.SequenceAllocator`,
:class:`~rooms.chat_moderation.ChatGate`, :class:`~rooms.ratelimit.ChatLimiter`,
:class:`~rooms.room_log.RoomLog`), each method without an await between its reads and its
writes (what a script's atomicity gives on Redis). On fakeredis, the embedded default before,
each was a trip through fakeredis's command machinery (0.1-1 ms of CPU per call, four calls per
chat message); here each is a few dict operations.

Like fakeredis, nothing here outlives the process: after a restart the sequence is seeded again
from the store's highest number (``floor``), so a session's numbers never repeat.
:meth:`LocalRoomState.forget` (called by :meth:`LocalPresence.forget_room`) drops a room.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack
from redis.asyncio import Redis

from rooms.bus_events import RoomMessage
from rooms.bus_port import Bus
from rooms.chat_moderation import TTL_SECONDS
from rooms.errors import RateLimited
from rooms.room_log import RoomLog, ScriptedAppend

__all__ = ["LocalChatGate", "LocalChatLimiter", "LocalRoomLog", "LocalRoomState", "LocalSequence"]

#: Buckets kept before the full ones (nothing to remember) are dropped.
_BUCKETS_BEFORE_PRUNE = 4096


@dataclass(slots=True)
class _Log:
    #: (seq, packed message), sorted: Redis's sorted set, whose ties sort by member.
    items: list[tuple[int, bytes]] = field(default_factory=list)
    #: Monotonic time after which the log is gone (Redis's EXPIRE, renewed by each append).
    expires: float = 0.0


@dataclass(slots=True)
class LocalRoomState:
    """Every room's counters, switches and logs in one process; share one instance between
    every component of the process (the hub, the chat service, server recordings)."""

    monotonic: Callable[[], float] = time.monotonic
    seq: dict[str, int] = field(default_factory=dict)
    chat_off: dict[str, float] = field(default_factory=dict)
    #: (session, user) → (tokens, updated ms).
    buckets: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    logs: dict[str, _Log] = field(default_factory=dict)

    def forget(self, session_id: str) -> None:
        """Drop the room's sequence and log (the room is over; Redis deletes those keys)."""
        self.seq.pop(session_id, None)
        self.logs.pop(session_id, None)


class LocalSequence:
    """Per-room sequence numbers in process (see :class:`rooms.sequence.SequenceAllocator`)."""

    def __init__(self, state: LocalRoomState) -> None:
        self._seq = state.seq

    async def current(self, session_id: str) -> int:
        """The last number handed out for ``session_id`` (0 if none, or after a restart)."""
        return self._seq.get(session_id, 0)

    async def begin(self, session_id: str) -> None:
        """A room that starts now: its counter is 0 (kept if it exists)."""
        self._seq.setdefault(session_id, 0)

    async def raise_to(self, session_id: str, value: int) -> None:
        """Make sure the next number is above ``value``."""
        if self._seq.get(session_id, 0) < value:
            self._seq[session_id] = value

    async def next(self, session_id: str, floor: Callable[[], Awaitable[int]]) -> int:
        """The next number for ``session_id``; ``floor`` returns the highest one already
        stored and is called only when the counter must be seeded (first use, restart)."""
        if session_id not in self._seq:
            seeded = await floor()
            # Another allocation may have seeded it while the store was read: like the
            # script, seed only a missing counter.
            self._seq.setdefault(session_id, seeded)
        value = self._seq[session_id] + 1
        self._seq[session_id] = value
        return value


class LocalChatGate:
    """Whether students may chat, in process (see :class:`rooms.chat_moderation.ChatGate`)."""

    def __init__(self, state: LocalRoomState) -> None:
        self._state = state

    async def students_may_chat(self, session_id: str) -> bool:
        until = self._state.chat_off.get(session_id)
        if until is None:
            return True
        if until <= self._state.monotonic():
            del self._state.chat_off[session_id]
            return True
        return False

    async def set_students_may_chat(self, session_id: str, allowed: bool) -> None:
        if allowed:
            self._state.chat_off.pop(session_id, None)
        else:
            self._state.chat_off[session_id] = self._state.monotonic() + TTL_SECONDS


class LocalChatLimiter:
    """One chat token bucket per user and session, in process (the token bucket of
    :class:`rooms.ratelimit.ChatLimiter`, to the millisecond)."""

    def __init__(
        self,
        state: LocalRoomState,
        *,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._buckets = state.buckets
        self._rate = rate
        self._burst = burst
        self._clock = clock

    def _refilled(self, tokens: float, updated: int, now: int) -> float:
        return min(self._burst, tokens + max(0, now - updated) * self._rate / 1000)

    async def take(self, session_id: str, user_id: str) -> None:
        """Spend one of ``user_id``'s chat tokens in the session, or raise
        :class:`RateLimited` with ``details.retryAfter`` (seconds)."""
        now = int(self._clock() * 1000)
        key = (session_id, user_id)
        tokens, updated = self._buckets.get(key, (self._burst, now))
        tokens = self._refilled(tokens, updated, now)
        wait = 0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = math.ceil((1 - tokens) * 1000 / self._rate)
        if len(self._buckets) >= _BUCKETS_BEFORE_PRUNE and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (tokens, now)
        if wait > 0:
            raise RateLimited(
                "too many chat messages; slow down",
                details={"retryAfter": round(wait / 1000, 3)},
            )

    def _prune(self, now: int) -> None:
        """Drop the buckets that are full again: a missing bucket is a full one."""
        full = [
            key
            for key, (tokens, updated) in self._buckets.items()
            if self._refilled(tokens, updated, now) >= self._burst
        ]
        for key in full:
            del self._buckets[key]


class LocalRoomLog(RoomLog):
    """The room's reliable log in process (see :class:`rooms.room_log.RoomLog`); messages are
    kept packed, so a reader gets its own copy, as from Redis. ``redis`` is the process's client,
    where the room's other switches (the microphone lock) stay."""

    def __init__(
        self,
        redis: Redis,
        state: LocalRoomState,
        *,
        capacity: int = 2000,
        ttl_seconds: int = 24 * 3600,
    ) -> None:
        super().__init__(redis, capacity=capacity, ttl_seconds=ttl_seconds)
        self._state = state

    def _log(self, session_id: str) -> _Log | None:
        log = self._state.logs.get(session_id)
        if log is not None and log.expires <= self._state.monotonic():
            del self._state.logs[session_id]
            return None
        return log

    async def append(self, session_id: str, seq: int, message: dict[str, Any]) -> None:
        log = self._log(session_id)
        if log is None:
            log = self._state.logs[session_id] = _Log()
        item = (seq, msgpack.packb(message, use_bin_type=True))
        index = bisect.bisect_left(log.items, item)
        if index == len(log.items) or log.items[index] != item:
            log.items.insert(index, item)
        if len(log.items) > self._capacity:
            del log.items[: len(log.items) - self._capacity]
        log.expires = self._state.monotonic() + self._ttl

    def scripted(self, session_id: str, event: RoomMessage, bus: Bus) -> ScriptedAppend | None:
        """None: this log is not in Redis, so no script writes it."""
        return None

    async def replace(self, session_id: str, seq: int, message: dict[str, Any]) -> None:
        log = self._log(session_id)
        if log is None:
            return
        start = bisect.bisect_left(log.items, (seq, b""))
        end = start
        while end < len(log.items) and log.items[end][0] == seq:
            end += 1
        if start == end:
            return
        log.items[start:end] = [(seq, msgpack.packb(message, use_bin_type=True))]

    async def since(self, session_id: str, seq: int) -> list[dict[str, Any]]:
        log = self._log(session_id)
        if log is None:
            return []
        start = bisect.bisect_right(log.items, seq, key=lambda item: item[0])
        return [msgpack.unpackb(packed, raw=False) for _, packed in log.items[start:]]

    async def oldest(self, session_id: str) -> int | None:
        log = self._log(session_id)
        return log.items[0][0] if log is not None and log.items else None
