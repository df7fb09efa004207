"""A Redis connection read by its protocol (rooms/redis_pipe.py): replies matched to their
exchanges in order, however many are in flight; error replies in place; a connection that is
lost, out of step or closed fails what waits on it and is not used again; a client whose
connections are not sockets (fakeredis) is refused, and its batches use the pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hiredis import pack_command
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from rooms.redis_batch import RedisBatch
from rooms.redis_client import close_redis, connect_redis
from rooms.redis_pipe import PipeUnavailable, RedisPipe

real_redis = pytest.mark.parametrize("redis", ["redis"], indirect=True)


def packed(*commands: tuple[Any, ...]) -> list[bytes]:
    return [pack_command(command) for command in commands]


@real_redis
async def test_exchanges_in_flight_get_their_own_replies_in_order(redis: Redis) -> None:
    pipe = await RedisPipe.open(redis)
    exchanges = [
        pipe.exchange(packed(("INCR", "t:n"), ("INCR", "t:n"), ("GET", "t:n")), 3)
        for _ in range(50)
    ]
    replies = await asyncio.gather(*exchanges)  # all written before any reply was read
    assert replies == [[2 * i + 1, 2 * i + 2, b"%d" % (2 * i + 2)] for i in range(50)]


@real_redis
async def test_an_error_reply_is_its_exception_in_place(redis: Redis) -> None:
    pipe = await RedisPipe.open(redis)
    await redis.set("t:text", "x")
    good, bad, unknown, after = await pipe.exchange(
        packed(
            ("INCR", "t:n"),
            ("INCR", "t:text"),
            ("EVALSHA", "0" * 40, 0),
            ("GET", "t:n"),
        ),
        4,
    )
    assert good == 1
    assert isinstance(bad, ResponseError)
    assert isinstance(unknown, NoScriptError)
    assert after == b"1"
    assert pipe.usable


@real_redis
async def test_a_lost_connection_fails_what_waits_and_the_batch_opens_another(
    redis: Redis,
) -> None:
    batch = RedisBatch(redis)
    assert await batch.command("PING") is True
    pipe = batch._pipe_now
    assert pipe is not None
    (client_id,) = await pipe.exchange(packed(("CLIENT", "ID")), 1)
    waiting = asyncio.ensure_future(pipe.exchange(packed(("BLPOP", "t:never", 0)), 1))
    await asyncio.sleep(0)  # written
    await redis.client_kill_filter(_id=client_id)
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(waiting, 5)
    assert not pipe.usable
    with pytest.raises(RedisConnectionError):
        await pipe.exchange(packed(("PING",)), 1)
    assert await batch.command("INCR", "t:after") == 1  # on a new connection
    assert batch._pipe_now is not pipe


async def test_a_client_of_fakeredis_is_not_piped_and_its_batch_uses_the_pool() -> None:
    client = connect_redis(None)
    try:
        with pytest.raises(PipeUnavailable):
            await RedisPipe.open(client)
        batch = RedisBatch(client)
        assert await asyncio.gather(*(batch.command("INCR", "t:n") for _ in range(3))) == [1, 2, 3]
        assert batch._pipe_now is None
    finally:
        await close_redis(client)


# -- against a server that misbehaves -------------------------------------------------------


class Scripted:
    """A Redis stand-in: ``+OK`` to the handshake's commands, and to each ``PING`` whatever
    ``answer`` gives for the connection's n-th PING (raw bytes); ``release`` lets a held
    answer go."""

    def __init__(self, answer: Callable[[int], bytes]) -> None:
        self.answer = answer
        self.release = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        pings = 0
        try:
            while True:
                count = int((await reader.readline())[1:])
                parts = []
                for _ in range(count):
                    size = int((await reader.readline())[1:])
                    parts.append((await reader.readexactly(size + 2))[:-2])
                if parts[:1] != [b"PING"]:
                    writer.write(b"+OK\r\n")
                    continue
                pings += 1
                reply = self.answer(pings)
                if reply == b"hold":
                    await self.release.wait()
                    reply = b"+first\r\n"
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


#: Starts a stand-in with its answers; gives a client of it (closed after the test).
Start = Callable[[Callable[[int], bytes]], Awaitable[Redis]]


@pytest.fixture
async def scripted() -> AsyncIterator[Start]:
    servers: list[asyncio.Server] = []
    clients: list[Redis] = []

    async def start(answer: Callable[[int], bytes]) -> Redis:
        stand_in = Scripted(answer)
        server = await asyncio.start_server(stand_in.serve, "127.0.0.1", 0)
        servers.append(server)
        client = Redis(port=server.sockets[0].getsockname()[1])
        client.stand_in = stand_in  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield start
    for client in clients:
        await close_redis(client)
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_a_reply_nobody_asked_for_closes_the_pipe(scripted: Start) -> None:
    client = await scripted(lambda n: b"+PONG\r\n+EXTRA\r\n")
    pipe = await RedisPipe.open(client)
    # One write, read at once: the first reply is the exchange's, the second nobody's.
    assert await pipe.exchange(packed(("PING",)), 1) == [b"PONG"]
    assert not pipe.usable
    with pytest.raises(RedisConnectionError):
        await pipe.exchange(packed(("PING",)), 1)


async def test_bytes_that_are_not_resp_close_the_pipe(scripted: Start) -> None:
    client = await scripted(lambda n: b"?what\r\n")
    pipe = await RedisPipe.open(client)
    with pytest.raises(RedisConnectionError, match="not RESP"):
        await pipe.exchange(packed(("PING",)), 1)
    assert not pipe.usable


async def test_a_caller_gone_leaves_the_next_exchange_its_own_reply(scripted: Start) -> None:
    client = await scripted(lambda n: b"hold" if n == 1 else b"+second\r\n")
    pipe = await RedisPipe.open(client)
    gone = asyncio.ensure_future(pipe.exchange(packed(("PING",)), 1))
    await asyncio.sleep(0)
    gone.cancel()
    nxt = asyncio.ensure_future(pipe.exchange(packed(("PING",)), 1))
    await asyncio.sleep(0)
    client.stand_in.release.set()  # type: ignore[attr-defined]
    assert await asyncio.wait_for(nxt, 5) == [b"second"]
    assert gone.cancelled()
    assert pipe.usable


async def test_closing_the_client_closes_its_pipes_and_fails_what_waits(
    scripted: Start,
) -> None:
    client = await scripted(lambda n: b"hold")
    pipe = await RedisPipe.open(client)
    waiting = asyncio.ensure_future(pipe.exchange(packed(("PING",)), 1))
    await asyncio.sleep(0)
    await close_redis(client)
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(waiting, 5)
    assert not pipe.usable
