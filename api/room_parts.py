"""The rooms' sequence, chat switch, chat rate limit and reliable log of one process: in this
process on the embedded default (:mod:`rooms.local_room_state`), in Redis otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from api.settings import Settings
from rooms.chat import ChatService
from rooms.chat_admission import ChatAdmission, RedisChatAdmission
from rooms.chat_moderation import ChatGate, StudentChatSwitch
from rooms.local_room_state import (
    LocalChatGate,
    LocalChatLimiter,
    LocalRoomLog,
    LocalRoomState,
    LocalSequence,
)
from rooms.presence import Presence
from rooms.ratelimit import ChatLimiter, ChatRateLimit
from rooms.room_log import RoomLog
from rooms.sequence import RoomSequence, SequenceAllocator
from rooms.store import Database

__all__ = ["RoomParts", "chat_service", "room_parts"]


@dataclass(frozen=True, slots=True)
class RoomParts:
    """The rooms' sequence, chat switch, chat rate limit and reliable log of one process;
    ``local`` holds them when they are in process (the embedded default)."""

    sequence: RoomSequence
    gate: StudentChatSwitch
    limiter: ChatRateLimit
    room_log: RoomLog
    local: LocalRoomState | None = None
    #: Chat's switch, rate limit and sequence number in one Redis script (not in process).
    chat_admission: ChatAdmission | None = None


def room_parts(
    settings: Settings, redis: Redis, clock: Callable[[], float] = time.time
) -> RoomParts:
    """On the embedded default (no Redis server, so one node) in this process
    (:mod:`rooms.local_room_state`: no fakeredis call on the chat path); otherwise in Redis,
    shared by every node. Build it once per process: its parts share the rooms' state."""
    rate, burst = settings.chat_rate_per_second, settings.chat_burst
    if settings.embedded_redis:
        state = LocalRoomState()
        return RoomParts(
            sequence=LocalSequence(state),
            gate=LocalChatGate(state),
            limiter=LocalChatLimiter(state, rate=rate, burst=burst, clock=clock),
            room_log=LocalRoomLog(redis, state),
            local=state,
        )
    return RoomParts(
        sequence=SequenceAllocator(redis),
        gate=ChatGate(redis),
        limiter=ChatLimiter(redis, rate=rate, burst=burst, clock=clock),
        room_log=RoomLog(redis),
        chat_admission=RedisChatAdmission(redis, rate=rate, burst=burst, clock=clock),
    )


def chat_service(
    settings: Settings, database: Database, presence: Presence, parts: RoomParts
) -> ChatService:
    """The process's chat on ``parts`` (on Redis: its one-step admission)."""
    return ChatService(
        database,
        presence,
        parts.sequence,
        max_chars=settings.chat_max_chars,
        limiter=parts.limiter,
        gate=parts.gate,
        admission=parts.chat_admission,
    )
