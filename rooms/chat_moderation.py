"""The host's switches for a room: whether students may chat (:class:`ChatGate`) and whether
their microphones are locked muted (:class:`MicLock`).

Kept in Redis (``lc:{sid}:chatoff``, ``lc:{sid}:miclock``) so that every node and the REST
path see the same; they last a day at most after the last change.
"""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

from rooms.keys import RoomKeys

__all__ = ["ChatGate", "MicLock", "StudentChatSwitch"]

#: How long the switch is kept (a class is at most a few hours long).
TTL_SECONDS = 24 * 3600


class StudentChatSwitch(Protocol):
    """Whether students may chat: :class:`ChatGate` (Redis, every node) or
    :class:`rooms.local_room_state.LocalChatGate` (the embedded single node)."""

    async def students_may_chat(self, session_id: str) -> bool: ...

    async def set_students_may_chat(self, session_id: str, allowed: bool) -> None: ...


class ChatGate:
    def __init__(self, redis: Redis, *, prefix: str = "lc") -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, session_id: str) -> str:
        return RoomKeys(session_id, self._prefix).chat_off

    async def students_may_chat(self, session_id: str) -> bool:
        return not await self._redis.exists(self._key(session_id))

    async def set_students_may_chat(self, session_id: str, allowed: bool) -> None:
        if allowed:
            await self._redis.delete(self._key(session_id))
        else:
            await self._redis.set(self._key(session_id), b"1", ex=TTL_SECONDS)


class MicLock:
    """While locked, students' clients keep their microphones muted (after ``mute-all``
    with ``lock``) and offer no *Unmute* until the host unlocks them."""

    def __init__(self, redis: Redis, *, prefix: str = "lc") -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, session_id: str) -> str:
        return RoomKeys(session_id, self._prefix).mic_lock

    async def locked(self, session_id: str) -> bool:
        return bool(await self._redis.exists(self._key(session_id)))

    async def set_locked(self, session_id: str, locked: bool) -> None:
        if locked:
            await self._redis.set(self._key(session_id), b"1", ex=TTL_SECONDS)
        else:
            await self._redis.delete(self._key(session_id))
