"""A Redis connection read by its protocol: replies are matched to their requests as their
bytes arrive, with no reader coroutine between the socket and the caller.

redis-py's asyncio connection reads through a ``StreamReader``: a reply wakes the stream,
then the connection's ``read_response`` coroutine, then the parser's, each a step of the
event loop, under a timeout context, after a pool checkout and a retry wrapper. On a hub that
was idle (a chat message every 50 ms, say) that path runs cold: one script's round trip took
0.50-0.57 ms through the batch's pool connection, 0.31-0.38 ms through this pipe, and
0.21-0.24 ms through the least a Python client can do (issue 18, the chat path on Redis;
``bench/results/20261207-s17-pipe/``). A :class:`RedisPipe` keeps one
connection whose bytes go straight from ``data_received`` into a hiredis reader, which hands
each reply to the exchange waiting for it.

The connection is opened by redis-py (its URL's host or socket, TLS, ``AUTH``, ``SELECT``,
``HELLO``, client name: everything the pool's connections do) and then taken over: its
transport is given this protocol. Only the connections of redis-py's own classes are taken
over; anything else (an in-process fakeredis) is refused with :class:`PipeUnavailable` and the
caller keeps using the pool.

Error replies come back as redis-py's exceptions (``NoScriptError``, ``ResponseError``) in
the list of replies, as redis-py's pipelines give them. A lost connection fails every exchange
in flight with redis-py's ``ConnectionError``; so does an exchange that outlives the
connection's ``socket_timeout`` (its replies, if they still came, could no longer be told
apart from the next exchange's), which itself raises ``TimeoutError`` (as a pool
connection's exchange under the same deadline did). The pipe is then closed
for good: :meth:`RedisPipe.usable` says so, and the owner opens another.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["PipeUnavailable", "RedisPipe", "close_pipes"]

#: The pipes opened on each client (closed with it: :func:`close_pipes`).
_opened: weakref.WeakKeyDictionary[Redis, weakref.WeakSet[RedisPipe]] = weakref.WeakKeyDictionary()


class PipeUnavailable(Exception):
    """This client's connections cannot be taken over (not a socket redis-py opened)."""


class _Exchange:
    """The replies one request is waiting for, and the future that gets them all."""

    __slots__ = ("done", "expected", "replies")

    def __init__(self, expected: int, done: asyncio.Future[list[Any]]) -> None:
        self.expected = expected
        self.replies: list[Any] = []
        self.done = done


class RedisPipe(asyncio.Protocol):
    """One connection to Redis; requests written at once, replies read in order."""

    def __init__(self, connection: AbstractConnection) -> None:
        kwargs: dict[str, Any] = {
            "protocolError": InvalidResponse,
            "replyError": connection._parser.parse_error,
        }
        encoder = connection.encoder
        if encoder.decode_responses:
            kwargs["encoding"] = encoder.encoding
            kwargs["errors"] = encoder.encoding_errors
        self._reader = hiredis.Reader(**kwargs)
        self._waiting: deque[_Exchange] = deque()
        self._transport: asyncio.Transport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._closed = False
        #: The connection's own limit on a reply's wait (None: none), and its retry policy.
        self.timeout: float | None = connection.socket_timeout
        self.retry = connection.retry

    @classmethod
    async def open(cls, redis: Redis) -> RedisPipe:
        """A new pipe to ``redis``'s server, opened as its pool opens connections. Raises
        :class:`PipeUnavailable` when the pool's connections are not redis-py's sockets, and
        redis-py's errors when the server cannot be reached."""
        pool = redis.connection_pool
        connection = pool.make_connection()  # type: ignore[no-untyped-call]
        await connection.connect()
        writer = getattr(connection, "_writer", None)
        reader = getattr(connection, "_reader", None)
        if not isinstance(writer, asyncio.StreamWriter) or not isinstance(
            reader, asyncio.StreamReader
        ):
            await connection.disconnect()
            raise PipeUnavailable(type(connection).__name__)
        if reader._buffer:  # type: ignore[attr-defined]  # never after the handshake
            await connection.disconnect()
            raise PipeUnavailable("bytes left unread after the handshake")
        pipe = cls(connection)
        transport = writer.transport
        # The connection object forgets its streams: the socket is the pipe's now, and
        # redis-py must not close it when the object goes. The writer stays with the pipe:
        # it closes its transport when it is collected.
        connection._reader = connection._writer = None
        transport.set_protocol(pipe)
        pipe._transport = transport  # type: ignore[assignment]
        pipe._writer = writer
        _opened.setdefault(redis, weakref.WeakSet()).add(pipe)
        return pipe

    @property
    def usable(self) -> bool:
        """Open and in step with the server (no reply lost or left unmatched)."""
        return not self._closed and self._transport is not None

    async def exchange(self, packed: list[bytes], replies: int) -> list[Any]:
        """Write ``packed`` (commands packed by hiredis) at once and return their
        ``replies`` in order, an error reply as its exception."""
        transport = self._transport
        if self._closed or transport is None:
            raise RedisConnectionError("the Redis pipe is closed")
        done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Exchange(replies, done))
        transport.write(b"".join(packed))
        if self.timeout is None:
            return await done
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.shield(done)
        except TimeoutError:
            self._fail(RedisTimeoutError("Timeout reading from Redis"))
            raise

    def close(self) -> None:
        """Close the connection; exchanges in flight fail."""
        self._fail(RedisConnectionError("the Redis pipe was closed"))

    # asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiting = self._waiting
        while True:
            try:
                reply = reader.gets()
            except InvalidResponse as exc:
                self._fail(RedisConnectionError(f"Redis sent what is not RESP: {exc}"))
                return
            if reply is False:
                return
            if not waiting:  # a reply nobody asked for: the stream is out of step
                self._fail(RedisConnectionError("Redis sent a reply nobody asked for"))
                return
            exchange = waiting[0]
            exchange.replies.append(reply)
            if len(exchange.replies) == exchange.expected:
                waiting.popleft()
                if not exchange.done.done():
                    exchange.done.set_result(exchange.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._fail(RedisConnectionError("Connection closed by server."))

    def eof_received(self) -> bool | None:
        return False  # close the transport (connection_lost follows)

    def _fail(self, error: Exception) -> None:
        self._closed = True
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        while self._waiting:
            done = self._waiting.popleft().done
            if not done.done():
                done.set_exception(error)
                done.exception()  # retrieved: its caller may have gone


def close_pipes(redis: Redis) -> None:
    """Close every pipe opened on ``redis`` (when the client itself is closed)."""
    for pipe in list(_opened.pop(redis, ())):
        pipe.close()
