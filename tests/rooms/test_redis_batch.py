"""Automatic pipelining (rooms/redis_batch.py): concurrent callers share round trips and one
connection, yet each gets its own reply or error, in the order issued; scripts Redis does not
hold are loaded and run; a caller gone before its batch was sent runs nothing; a Redis that
does not answer fails the batch within the socket timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import DataError, ResponseError

from rooms.presence import RedisPresence
from rooms.redis_batch import RedisBatch
from rooms.redis_client import close_redis
from rooms.sequence import SequenceAllocator

INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


async def test_concurrent_commands_share_a_round_trip_and_keep_their_order(redis: Redis) -> None:
    batch = RedisBatch(redis)
    await batch.command("PING")  # the batch's connection is open
    replies = await asyncio.gather(*(batch.command("INCR", "t:n") for _ in range(200)))
    assert replies == list(range(1, 201))
    # Together: on a real Redis the first goes at once (nothing was out: rooms/redis_pipe.py)
    # and the 199 that came meanwhile in one pipeline; on fakeredis all 200 in one.
    assert batch.round_trips - 1 <= 2


async def test_presence_and_sequence_numbers_of_one_client_share_its_round_trips(
    redis: Redis,
) -> None:
    presence, sequence = RedisPresence(redis), SequenceAllocator(redis)
    await presence.small_roster("s-warm", 50, purge=False)  # Redis now holds the script
    shared = RedisBatch.of(redis)
    before = shared.round_trips
    # A join's admission and its sequence read, from many joins at once: the first at once,
    # the rest in one pipeline.
    await asyncio.gather(
        *(presence.small_roster(f"s-{i}", 50, purge=False) for i in range(20)),
        *(sequence.current(f"s-{i}") for i in range(20)),
    )
    assert shared.round_trips - before <= 2
    assert RedisBatch.of(redis) is RedisBatch.of(redis)


async def test_a_lane_does_not_wait_behind_another_lanes_pipeline(redis: Redis) -> None:
    assert RedisBatch.of(redis, lane="chat") is RedisBatch.of(redis, lane="chat")
    assert RedisBatch.of(redis, lane="chat") is not RedisBatch.of(redis)
    hold, out = asyncio.Event(), asyncio.Event()
    shared_lane = RedisBatch.of(redis)
    replies = shared_lane._replies

    async def held(packed: list[bytes], count: int) -> list[Any]:
        # The first round trip (the default lane's) is out, and stays out for now.
        shared_lane._replies = replies  # type: ignore[method-assign]
        out.set()
        await hold.wait()
        return await replies(packed, count)

    shared_lane._replies = held  # type: ignore[method-assign, assignment]
    shared = asyncio.ensure_future(shared_lane.command("INCR", "t:shared"))
    await out.wait()  # its pipeline is out (held)
    waiting = asyncio.ensure_future(shared_lane.command("INCR", "t:shared"))
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


async def test_a_command_that_cannot_be_sent_fails_alone(redis: Redis) -> None:
    batch = RedisBatch(redis)
    replies: list[object] = await asyncio.gather(
        batch.command("INCR", "t:n"),
        batch.command("SET", "t:none", None),
        batch.command("INCR", "t:n"),
        return_exceptions=True,
    )
    first, unsendable, second = replies
    assert (first, second) == (1, 2)
    assert isinstance(unsendable, DataError)
    assert await redis.exists("t:none") == 0


class SlowRedis:
    """A Redis that answers its handshake (``+OK``) and ``INCR`` with ``:<n>``, where n counts
    the connections: on the first connection only once ``late`` is set, after the client gave
    up; on the others at once."""

    def __init__(self) -> None:
        self.late = asyncio.Event()
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                command = await read_command(reader)
                if command[:1] != [b"INCR"]:
                    writer.write(b"+OK\r\n")
                    continue
                if number == 1:
                    await self.late.wait()
                writer.write(b":%d\r\n" % number)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def read_command(reader: asyncio.StreamReader) -> list[bytes]:
    count = int((await reader.readline())[1:])
    parts = []
    for _ in range(count):
        size = int((await reader.readline())[1:])
        parts.append((await reader.readexactly(size + 2))[:-2])
    return parts


async def test_a_batch_redis_does_not_answer_fails_within_the_socket_timeout() -> None:
    """One deadline (the socket timeout) bounds a batch's exchange, and a connection that
    timed out is not used again: its late reply is never read as another command's."""
    slow = SlowRedis()
    server = await asyncio.start_server(slow.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Redis(port=port, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
    try:
        batch = RedisBatch(client)
        async with asyncio.timeout(10):  # a batch without its deadline fails here instead
            with pytest.raises(TimeoutError):
                await batch.command("INCR", "t:n")
            slow.late.set()
            assert await batch.command("INCR", "t:n") == 2  # a new connection's reply
        assert slow.connections == 2
    finally:
        await close_redis(client)
        server.close()
        await server.wait_closed()
