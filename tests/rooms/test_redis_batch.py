"""Automatic pipelining (rooms/redis_batch.py): concurrent callers share round trips and one
connection, yet each gets its own reply or error, in the order issued; scripts Redis does not
hold are loaded and run; a caller gone before its batch was sent runs nothing."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from rooms.presence import RedisPresence
from rooms.redis_batch import RedisBatch
from rooms.sequence import SequenceAllocator

INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


def count_pipelines(redis: Redis) -> list[int]:
    """From now on, count the pipelines ``redis`` opens: one entry per pipeline."""
    opened: list[int] = []
    pipeline = redis.pipeline

    def counting(transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        opened.append(1)
        return pipeline(transaction, shard_hint)

    redis.pipeline = counting  # type: ignore[method-assign]
    return opened


async def test_concurrent_commands_share_a_round_trip_and_keep_their_order(redis: Redis) -> None:
    batch = RedisBatch(redis)
    pipelines = count_pipelines(redis)
    replies = await asyncio.gather(*(batch.command("INCR", "t:n") for _ in range(200)))
    assert replies == list(range(1, 201))
    assert len(pipelines) == 1


async def test_presence_and_sequence_numbers_of_one_client_share_its_round_trips(
    redis: Redis,
) -> None:
    presence, sequence = RedisPresence(redis), SequenceAllocator(redis)
    await presence.small_roster("s-warm", 50, purge=False)  # Redis now holds the script
    pipelines = count_pipelines(redis)
    # A join's admission and its sequence read, from many joins at once: one pipeline.
    await asyncio.gather(
        *(presence.small_roster(f"s-{i}", 50, purge=False) for i in range(20)),
        *(sequence.current(f"s-{i}") for i in range(20)),
    )
    assert len(pipelines) == 1
    assert RedisBatch.of(redis) is RedisBatch.of(redis)


async def test_a_lane_does_not_wait_behind_another_lanes_pipeline(redis: Redis) -> None:
    assert RedisBatch.of(redis, lane="chat") is RedisBatch.of(redis, lane="chat")
    assert RedisBatch.of(redis, lane="chat") is not RedisBatch.of(redis)
    hold, out = asyncio.Event(), asyncio.Event()
    pipeline = redis.pipeline

    def held(transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = pipeline(transaction, shard_hint)
        if not hold.is_set():
            execute = pipe.execute

            async def wait_then_execute(raise_on_error: bool = True) -> list[object]:
                out.set()
                await hold.wait()  # the default lane's round trip is out for now
                return await execute(raise_on_error)

            pipe.execute = wait_then_execute  # type: ignore[method-assign]
        return pipe

    redis.pipeline = held  # type: ignore[method-assign]
    shared = asyncio.ensure_future(RedisBatch.of(redis).command("INCR", "t:shared"))
    await out.wait()  # its pipeline is out (held)
    redis.pipeline = pipeline  # type: ignore[method-assign]
    waiting = asyncio.ensure_future(RedisBatch.of(redis).command("INCR", "t:shared"))
    async with asyncio.timeout(5):
        assert await RedisBatch.of(redis, lane="chat").command("INCR", "t:chat") == 1
    assert not shared.done()
    assert not waiting.done()  # the default lane's next command waits for its turn
    hold.set()
    assert sorted([await shared, await waiting]) == [1, 2]


async def test_each_caller_gets_its_own_error(redis: Redis) -> None:
    batch = RedisBatch(redis)
    await redis.set("t:text", "x")
    replies: list[object] = await asyncio.gather(
        batch.command("INCR", "t:n"),
        batch.command("INCR", "t:text"),
        batch.command("GET", "t:n"),
        return_exceptions=True,
    )
    good, bad, after = replies
    assert good == 1
    assert isinstance(bad, ResponseError)
    assert after == b"1"


async def test_a_script_redis_lost_is_loaded_and_run_once(redis: Redis) -> None:
    batch = RedisBatch(redis)
    script = redis.register_script(INCR_BY)
    await redis.script_flush()
    replies = await asyncio.gather(*(batch.script(script, ["t:s"], [2]) for _ in range(5)))
    assert replies == [2, 4, 6, 8, 10]
    await redis.script_flush()  # a Redis restart
    assert await batch.script(script, ["t:s"], [1]) == 11


async def test_a_caller_gone_before_the_send_runs_nothing(redis: Redis) -> None:
    batch = RedisBatch(redis)
    first = asyncio.ensure_future(batch.command("INCR", "t:n"))
    gone = asyncio.ensure_future(batch.command("INCR", "t:gone"))
    gone.cancel()
    assert await first == 1
    with pytest.raises(asyncio.CancelledError):
        await gone
    await batch.command("PING")
    assert await redis.get("t:gone") is None
