"""Chat's one-step admission on Redis answers as the chat switch, the rate limit and the
sequence asked in turn would (``rooms/chat_admission.py``), on fakeredis and on real Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from rooms.chat_admission import RedisChatAdmission
from rooms.chat_moderation import ChatGate
from rooms.errors import Forbidden, RateLimited
from rooms.keys import RoomKeys
from rooms.ratelimit import ChatLimiter
from rooms.sequence import SequenceAllocator
from tests.conftest import FakeClock
from tests.rooms.test_redis_batch import count_pipelines


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
    pipelines = count_pipelines(redis)
    numbers = await asyncio.gather(
        *(admission.admit("s1", f"u{i}", guest=True, floor=floor) for i in range(100))
    )
    assert sorted(numbers) == list(range(2, 102))
    assert len(pipelines) < 10
