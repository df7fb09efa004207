"""The chat path's room state, one contract for every implementation: the chat rate limit, the
host's chat switch and the reliable room log, in process (:mod:`rooms.local_room_state`, the
embedded default) and in Redis (fakeredis and a real server). The sequence's contract is in
``test_sequence.py``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from rooms.bus import RoomBus
from rooms.bus_events import BusEvent, RoomMessage
from rooms.bus_port import Bus
from rooms.chat_moderation import ChatGate, StudentChatSwitch
from rooms.errors import RateLimited
from rooms.keys import RoomKeys
from rooms.local_bus import LocalBroker, LocalBus
from rooms.local_room_state import LocalChatGate, LocalChatLimiter, LocalRoomLog, LocalRoomState
from rooms.ratelimit import ChatLimiter, ChatRateLimit
from rooms.redis_client import close_redis, connect_redis
from rooms.room_log import RoomLog


class Clock:
    """Seconds since the epoch, moved only by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    kind: str
    redis: Redis
    state: LocalRoomState = field(default_factory=LocalRoomState)

    def limiter(self, clock: Clock, *, rate: float, burst: float) -> ChatRateLimit:
        if self.kind == "local":
            return LocalChatLimiter(self.state, rate=rate, burst=burst, clock=clock)
        return ChatLimiter(self.redis, rate=rate, burst=burst, clock=clock)

    def gate(self) -> StudentChatSwitch:
        if self.kind == "local":
            return LocalChatGate(self.state)
        return ChatGate(self.redis)

    def log(self, capacity: int = 2000) -> RoomLog:
        if self.kind == "local":
            return LocalRoomLog(self.redis, self.state, capacity=capacity)
        return RoomLog(self.redis, capacity=capacity)

    def bus(self) -> Bus:
        """A bus of the kind this backend's log goes with (the embedded default's in process)."""
        if self.kind == "local":
            return LocalBus(self.broker)
        return RoomBus(self.redis)

    broker: LocalBroker = field(default_factory=LocalBroker)


@pytest.fixture
def backend(contract_backend: tuple[str, Redis]) -> Backend:
    return Backend(*contract_backend)


async def refusal(limiter: ChatRateLimit, session_id: str, user_id: str) -> float:
    with pytest.raises(RateLimited) as refused:
        await limiter.take(session_id, user_id)
    assert refused.value.details is not None
    return float(refused.value.details["retryAfter"])


async def test_the_burst_is_spent_then_refused_with_the_wait(backend: Backend) -> None:
    clock = Clock()
    limiter = backend.limiter(clock, rate=2.0, burst=3.0)
    for _ in range(3):
        await limiter.take("s-1", "ann")
    assert await refusal(limiter, "s-1", "ann") == 0.5
    clock.now += 0.2
    # 0.4 of a token came back: 0.3 s until the next.
    assert await refusal(limiter, "s-1", "ann") == 0.3
    clock.now += 0.3
    await limiter.take("s-1", "ann")
    assert await refusal(limiter, "s-1", "ann") == 0.5


async def test_buckets_are_per_user_and_session_and_refill_to_the_burst(backend: Backend) -> None:
    clock = Clock()
    limiter = backend.limiter(clock, rate=1.0, burst=1.0)
    await limiter.take("s-1", "ann")
    await limiter.take("s-1", "bob")
    await limiter.take("s-2", "ann")
    assert await refusal(limiter, "s-1", "ann") == 1.0
    clock.now += 3600
    await limiter.take("s-1", "ann")
    assert await refusal(limiter, "s-1", "ann") == 1.0


async def test_limiters_share_the_buckets(backend: Backend) -> None:
    """Two nodes on one Redis, or the REST and WebSocket paths of one process: one bucket."""
    clock = Clock()
    first = backend.limiter(clock, rate=1.0, burst=2.0)
    second = backend.limiter(clock, rate=1.0, burst=2.0)
    await first.take("s-1", "ann")
    await second.take("s-1", "ann")
    assert await refusal(first, "s-1", "ann") == 1.0


async def test_the_host_turns_student_chat_off_and_on(backend: Backend) -> None:
    gate, other = backend.gate(), backend.gate()
    assert await gate.students_may_chat("s-1")
    await gate.set_students_may_chat("s-1", False)
    assert not await other.students_may_chat("s-1")
    assert await other.students_may_chat("s-2")
    await other.set_students_may_chat("s-1", False)
    await other.set_students_may_chat("s-1", True)
    assert await gate.students_may_chat("s-1")


async def test_the_log_replays_everything_after_a_seq_in_order(backend: Backend) -> None:
    log = backend.log()
    assert await log.since("s-1", 0) == []
    assert await log.oldest("s-1") is None
    # Numbers can be logged out of order (allocated concurrently); replay is by number.
    for seq in (1, 3, 2, 4):
        await log.append("s-1", seq, {"type": "chat", "seq": seq, "meta": {"n": [seq]}})
    await log.append("s-2", 1, {"type": "hand", "seq": 1})
    assert [m["seq"] for m in await log.since("s-1", 0)] == [1, 2, 3, 4]
    assert await log.since("s-1", 2) == [
        {"type": "chat", "seq": 3, "meta": {"n": [3]}},
        {"type": "chat", "seq": 4, "meta": {"n": [4]}},
    ]
    assert await log.since("s-1", 4) == []
    assert await log.oldest("s-1") == 1
    assert await log.since("s-2", 0) == [{"type": "hand", "seq": 1}]


async def test_a_reader_gets_its_own_copy(backend: Backend) -> None:
    log = backend.log()
    message = {"type": "chat", "seq": 1, "text": "hi"}
    await log.append("s-1", 1, message)
    message["text"] = "changed"
    replayed = await log.since("s-1", 0)
    replayed[0]["text"] = "mine"
    assert await log.since("s-1", 0) == [{"type": "chat", "seq": 1, "text": "hi"}]


async def test_the_log_keeps_the_newest_capacity_entries(backend: Backend) -> None:
    log = backend.log(capacity=3)
    for seq in range(1, 6):
        await log.append("s-1", seq, {"seq": seq})
    assert await log.oldest("s-1") == 3
    assert [m["seq"] for m in await log.since("s-1", 0)] == [3, 4, 5]


async def test_replace_puts_a_tombstone_in_place_unless_trimmed(backend: Backend) -> None:
    log = backend.log(capacity=3)
    for seq in range(1, 5):
        await log.append("s-1", seq, {"type": "chat", "seq": seq})
    await log.replace("s-1", 3, {"type": "chat-deleted", "seq": 3})
    await log.replace("s-1", 1, {"type": "chat-deleted", "seq": 1})  # trimmed: no-op
    await log.replace("s-9", 1, {"type": "chat-deleted", "seq": 1})  # no log: no-op
    assert await log.since("s-1", 0) == [
        {"type": "chat", "seq": 2},
        {"type": "chat-deleted", "seq": 3},
        {"type": "chat", "seq": 4},
    ]
    assert await log.since("s-9", 0) == []


async def test_forgetting_a_local_room_drops_its_sequence_and_log() -> None:
    state = LocalRoomState()
    redis = connect_redis(None)
    try:
        log = LocalRoomLog(redis, state)
        state.seq["s-1"], state.seq["s-2"] = 4, 7
        await log.append("s-1", 4, {"seq": 4})
        await log.append("s-2", 7, {"seq": 7})
        state.forget("s-1")
        assert state.seq == {"s-2": 7}
        assert await log.since("s-1", 0) == []
        assert await log.oldest("s-2") == 7
    finally:
        await close_redis(redis)


async def next_event(bus: Bus) -> BusEvent:
    async with asyncio.timeout(10):
        async for _channel, event in bus.events(poll_timeout=0.05):
            return event
    raise AssertionError("unreachable")


async def test_publish_logs_the_message_then_publishes_it(backend: Backend) -> None:
    log, publisher, listener = backend.log(), backend.bus(), backend.bus()
    await listener.subscribe(listener.room_channel("s-1"))
    try:
        message = {"type": "chat", "seq": 5, "text": "hi"}
        await log.publish("s-1", 5, RoomMessage("s-1", message, "node-a", sent_at=1.5), publisher)
        event = await next_event(listener)
        assert event == RoomMessage("s-1", message, "node-a", sent_at=1.5)
        assert await log.since("s-1", 0) == [message]
    finally:
        await listener.close()
        await publisher.close()


@pytest.mark.parametrize("contract_backend", ["fakeredis", "redis"], indirect=True)
async def test_a_message_the_log_cannot_take_is_not_published(backend: Backend) -> None:
    log, publisher, listener = backend.log(), backend.bus(), backend.bus()
    await listener.subscribe(listener.room_channel("s-1"), listener.room_channel("s-2"))
    await backend.redis.set(RoomKeys("s-1").log, "not a sorted set")
    try:
        with pytest.raises(ResponseError):
            await log.publish("s-1", 1, RoomMessage("s-1", {"seq": 1}), publisher)
        await log.publish("s-2", 2, RoomMessage("s-2", {"seq": 2}), publisher)
        event = await next_event(listener)  # the first publication the listener hears
        assert event == RoomMessage("s-2", {"seq": 2})
    finally:
        await listener.close()
        await publisher.close()


@pytest.mark.parametrize("contract_backend", ["fakeredis"], indirect=True)
async def test_a_script_publishes_only_on_the_bus_own_client_unsharded(backend: Backend) -> None:
    event = RoomMessage("s-1", {"seq": 1})
    assert RoomBus(backend.redis).script_publication(backend.redis, event) is not None
    assert RoomBus(backend.redis, sharded=True).script_publication(backend.redis, event) is None
    other = connect_redis(None)
    try:
        assert RoomBus(backend.redis).script_publication(other, event) is None
    finally:
        await close_redis(other)
