"""Chat's one-step admission on Redis answers as the chat switch, the rate limit and the
sequence asked in turn would (``rooms/chat_admission.py``), and, with the room's log and bus,
logs and publishes an admitted message with its number in the same step; on fakeredis and on
real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from rooms.bus import RoomBus
from rooms.bus_events import RoomMessage
from rooms.chat_admission import SEQ_PLACEHOLDER, RedisChatAdmission
from rooms.chat_moderation import ChatGate
from rooms.errors import Forbidden, RateLimited
from rooms.keys import RoomKeys
from rooms.ratelimit import ChatLimiter
from rooms.redis_batch import RedisBatch
from rooms.room_log import RoomLog
from rooms.sequence import SequenceAllocator
from tests.conftest import FakeClock


class Floor:
    """The store's highest number, counting how often it was asked."""

    def __init__(self, value: int = 0) -> None:
        self.value = value
        self.asked = 0

    async def __call__(self) -> int:
        self.asked += 1
        return self.value


def _admission(redis: Redis, clock: FakeClock, *, burst: float = 3) -> RedisChatAdmission:
    return RedisChatAdmission(redis, rate=1.0, burst=burst, clock=clock)


async def test_numbers_follow_the_sequence_allocators_and_share_its_counter(redis: Redis) -> None:
    admission = _admission(redis, FakeClock(), burst=100)
    floor = Floor()
    assert [await admission.admit("s1", "u1", guest=True, floor=floor) for _ in range(3)] == [
        1,
        2,
        3,
    ]
    assert await SequenceAllocator(redis).next("s1", floor) == 4  # a raised hand, say
    assert await admission.admit("s1", "u2", guest=False, floor=floor) == 5
    assert floor.asked == 1  # the first number seeded the counter (from 0)


async def test_chat_off_refuses_students_before_their_tokens_or_numbers(redis: Redis) -> None:
    admission = _admission(redis, FakeClock(), burst=1)
    gate, floor = ChatGate(redis), Floor()
    await admission.admit("s1", "t", guest=False, floor=floor)  # 1
    await gate.set_students_may_chat("s1", False)
    for _ in range(3):
        with pytest.raises(Forbidden) as caught:
            await admission.admit("s1", "u1", guest=True, floor=floor)
        assert caught.value.code == "chat_off"
    assert await admission.admit("s1", "host", guest=False, floor=floor) == 2
    await gate.set_students_may_chat("s1", True)
    # The refusals spent neither the student's one token nor a number.
    assert await admission.admit("s1", "u1", guest=True, floor=floor) == 3


async def test_a_rate_limited_message_spends_no_number_and_says_when(redis: Redis) -> None:
    clock = FakeClock()
    admission, floor = _admission(redis, clock, burst=2), Floor()
    assert await admission.admit("s1", "u1", guest=True, floor=floor) == 1
    # The rate limiter's own bucket: a REST post through ChatLimiter draws on it too.
    await ChatLimiter(redis, rate=1.0, burst=2, clock=clock).take("s1", "u1")
    with pytest.raises(RateLimited) as caught:
        await admission.admit("s1", "u1", guest=True, floor=floor)
    assert caught.value.retry_after is not None
    assert 0.9 < caught.value.retry_after <= 1.0
    assert await admission.admit("s1", "u2", guest=True, floor=floor) == 2  # another user
    clock.advance(1.0)
    assert await admission.admit("s1", "u1", guest=True, floor=floor) == 3


async def test_a_lost_counter_is_seeded_from_the_store_and_spends_one_token(
    redis: Redis,
) -> None:
    admission, floor = _admission(redis, FakeClock(), burst=1), Floor(41)
    await redis.delete(RoomKeys("s1").seq)
    assert await admission.admit("s1", "u1", guest=True, floor=floor) == 42
    assert floor.asked == 1
    with pytest.raises(RateLimited):  # its one token went on the one message
        await admission.admit("s1", "u1", guest=True, floor=floor)


async def test_concurrent_messages_get_every_number_once_in_shared_round_trips(
    redis: Redis,
) -> None:
    admission, floor = _admission(redis, FakeClock(), burst=100), Floor()
    await admission.admit("s1", "warm", guest=True, floor=floor)  # the script is loaded
    lane = RedisBatch.of(redis, lane="chat")
    before = lane.round_trips
    numbers = await asyncio.gather(
        *(admission.admit("s1", f"u{i}", guest=True, floor=floor) for i in range(100))
    )
    assert sorted(numbers) == list(range(2, 102))
    assert lane.round_trips - before < 10


# -- admitted, logged and published in one step (admit_and_append) -------------------------


def _event(session_id: str, text: str) -> RoomMessage:
    """A chat message's room event, packed before its number exists."""
    message = {"type": "chat", "id": text, "seq": SEQ_PLACEHOLDER, "text": text, "ts": "now"}
    return RoomMessage(session_id, message, "node-1", sent_at=1.5)


async def _post(
    admission: RedisChatAdmission, log: RoomLog, bus: RoomBus, text: str, **user: Any
) -> int:
    scripted = log.scripted("s1", _event("s1", text), bus)
    assert scripted is not None
    return await admission.admit_and_append(
        "s1",
        user.get("user", "u1"),
        guest=user.get("guest", True),
        floor=user.get("floor", Floor()),
        append=scripted,
    )


async def _heard(bus: RoomBus, count: int) -> list[tuple[int, str]]:
    """The (seq, text) of the next ``count`` chat messages on the room's channel."""
    heard: list[tuple[int, str]] = []
    async with asyncio.timeout(10):
        async for _, event in bus.events(poll_timeout=0.05):
            assert isinstance(event, RoomMessage)
            assert event.sent_at == 1.5
            heard.append((event.message["seq"], event.message["text"]))
            if len(heard) == count:
                return heard
    raise AssertionError("the bus stopped")


@pytest.fixture
async def room(redis: Redis) -> AsyncIterator[tuple[RoomLog, RoomBus]]:
    """The room's log and a bus that hears its channel, on the admission's Redis."""
    bus = RoomBus(redis)
    await bus.subscribe(bus.room_channel("s1"))
    yield RoomLog(redis), bus
    await bus.close()


async def test_a_message_is_logged_and_published_with_the_number_it_was_given(
    redis: Redis, room: tuple[RoomLog, RoomBus]
) -> None:
    log, bus = room
    admission = _admission(redis, FakeClock(), burst=100)
    await redis.set(RoomKeys("s1").seq, 2**40 + 255)  # every byte of the number matters
    assert await _post(admission, log, bus, "hello") == 2**40 + 256
    assert await _post(admission, log, bus, "again") == 2**40 + 257
    assert await _heard(bus, 2) == [(2**40 + 256, "hello"), (2**40 + 257, "again")]
    logged = await log.since("s1", 0)
    assert [(m["seq"], m["text"], m["ts"]) for m in logged] == [
        (2**40 + 256, "hello", "now"),
        (2**40 + 257, "again", "now"),
    ]


async def test_a_refused_message_is_neither_logged_nor_published(
    redis: Redis, room: tuple[RoomLog, RoomBus]
) -> None:
    log, bus = room
    admission = _admission(redis, FakeClock(), burst=1)
    await ChatGate(redis).set_students_may_chat("s1", False)
    with pytest.raises(Forbidden):
        await _post(admission, log, bus, "chat is off")
    await ChatGate(redis).set_students_may_chat("s1", True)
    assert await _post(admission, log, bus, "first") == 1
    with pytest.raises(RateLimited):
        await _post(admission, log, bus, "too fast")
    assert await _post(admission, log, bus, "the host", user="host", guest=False) == 2
    assert await _heard(bus, 2) == [(1, "first"), (2, "the host")]
    assert [m["text"] for m in await log.since("s1", 0)] == ["first", "the host"]


async def test_a_lost_counter_is_seeded_and_the_message_logged_once(
    redis: Redis, room: tuple[RoomLog, RoomBus]
) -> None:
    log, bus = room
    admission, floor = _admission(redis, FakeClock()), Floor(41)
    assert await _post(admission, log, bus, "after the loss", floor=floor) == 42
    assert floor.asked == 1
    assert await _heard(bus, 1) == [(42, "after the loss")]
    assert [m["seq"] for m in await log.since("s1", 0)] == [42]


async def test_concurrent_messages_reach_the_room_in_their_numbers_order(
    redis: Redis, room: tuple[RoomLog, RoomBus]
) -> None:
    log, bus = room
    admission = _admission(redis, FakeClock(), burst=100)
    texts = [f"m{i}" for i in range(50)]
    numbers = await asyncio.gather(*(_post(admission, log, bus, t, user=t) for t in texts))
    heard = await _heard(bus, 50)
    assert [seq for seq, _ in heard] == list(range(1, 51))
    assert sorted(zip(numbers, texts, strict=True)) == heard
    assert [m["seq"] for m in await log.since("s1", 0)] == list(range(1, 51))


async def test_a_message_without_the_placeholder_is_refused_before_redis(
    redis: Redis, room: tuple[RoomLog, RoomBus]
) -> None:
    log, bus = room
    admission = _admission(redis, FakeClock())
    event = _event("s1", "numbered already")
    event.message["seq"] = 7
    scripted = log.scripted("s1", event, bus)
    assert scripted is not None
    with pytest.raises(ValueError, match="SEQ_PLACEHOLDER"):
        await admission.admit_and_append("s1", "u1", guest=True, floor=Floor(), append=scripted)
    assert await redis.get(RoomKeys("s1").seq) is None  # nothing was spent
