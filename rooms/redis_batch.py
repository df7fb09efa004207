"""Automatic pipelining: the Redis commands that concurrent callers issue while one round trip
is out go together in the next, as one pipeline on one connection.

A join storm (issue 18) runs hundreds of admissions at once, each a Lua script and a couple of
reads. Sent one by one, each takes a pool connection: the pool grows to its limit (every new
connection a handshake of several round trips, and a read buffer that stays with the process:
KiB per joined client), and every command pays its own system calls. Batched, a storm needs one
or two connections and one write and a few reads per batch.

The batch writes its pipelines itself (commands packed by hiredis in C, one write, the replies
read in order under one deadline) instead of through redis-py's ``Pipeline``, whose per-command
bookkeeping and per-reply timers were about a tenth of a Redis join storm's CPU (py-spy).

Each batch has a connection of its own, read by its protocol (rooms/redis_pipe.py): a
reply reaches its caller from the socket's callback, without redis-py's reader coroutines, and
a command issued while nothing is out is written from its caller's task at once, not from the
batch's sender task a loop step later (a quiet hub's chat message: one script's round trip
0.31-0.38 ms instead of 0.50-0.57, cold). A client whose connections are not sockets (fakeredis)
keeps using its pool.

Nothing changes for the caller: each command (each script stays one atomic step in Redis) runs
in the order it was issued, and returns its own reply or raises its own error. A caller that
went away before its batch was sent has its command dropped; one sent runs, as a command sent
directly would have. On a Redis Cluster commands go directly (a pipeline there would be split
per shard anyway).
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hiredis import pack_command
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.commands.core import AsyncScript
from redis.exceptions import DataError, NoScriptError, ResponseError

from rooms.redis_client import is_cluster
from rooms.redis_pipe import PipeUnavailable, RedisPipe

__all__ = ["RedisBatch"]


@dataclass(slots=True)
class _Command:
    args: tuple[Any, ...]
    script: AsyncScript | None
    reloaded: bool = False
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class RedisBatch:
    """Pipelines the commands of concurrent callers (see the module's docstring). At most
    ``max_commands`` go in one pipeline; one pipeline is out at a time. Users of one client
    share its batch through :meth:`of`, so their commands ride the same round trips."""

    _shared: weakref.WeakKeyDictionary[Redis, dict[str, RedisBatch]] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, redis: Redis, lane: str = "") -> RedisBatch:
        """The batch every user of ``redis`` in ``lane`` shares (presence, sequence numbers).
        A lane's pipeline goes out beside the others', never waits for theirs: chat has one of
        its own, so a message does not wait behind a presence renewal of hundreds."""
        lanes = cls._shared.get(redis)
        if lanes is None:
            lanes = cls._shared[redis] = {}
        batch = lanes.get(lane)
        if batch is None:
            batch = lanes[lane] = cls(redis)
        return batch

    def __init__(self, redis: Redis, *, max_commands: int = 512) -> None:
        self._redis = redis
        self._direct = is_cluster(redis)
        self._max = max_commands
        self._queue: list[_Command] = []
        self._sender: asyncio.Task[None] | None = None
        # Whether the client's connections can be piped (None: not tried yet), and the pipe.
        self._piped: bool | None = None
        self._pipe_now: RedisPipe | None = None
        self._inline = False  # a caller's own round trip is out (see _enqueue)
        #: Pipelines sent so far (each one write, and its replies read in order).
        self.round_trips = 0

    async def command(self, *args: Any) -> Any:
        """Run one command (``"GET", key``, ...): its reply as ``execute_command`` gives it."""
        if self._direct:
            return await self._redis.execute_command(*args)  # type: ignore[no-untyped-call]
        return await self._enqueue(_Command(args, None))

    async def script(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run ``script`` (registered on this client) with ``keys`` and ``args``."""
        if self._direct:
            return await script(keys=list(keys), args=list(args))
        return await self._enqueue(_Command((len(keys), *keys, *args), script))

    async def _enqueue(self, command: _Command) -> Any:
        if self._piped and self._sender is None and not self._inline:
            # Nothing out: this command goes at once, from its caller's task (a quiet hub's
            # chat message does not wait for the sender task's turn on the loop).
            self._inline = True
            try:
                await self._round_trip([command])
            finally:
                self._inline = False
                if self._queue:
                    self._sender = asyncio.get_running_loop().create_task(self._send())
            return await command.done  # settled, or sent again after a script load
        self._queue.append(command)
        if self._sender is None and not self._inline:
            self._sender = asyncio.get_running_loop().create_task(self._send())
        return await command.done

    async def _send(self) -> None:
        try:
            while self._queue:
                batch = [c for c in self._queue[: self._max] if not c.done.done()]
                del self._queue[: self._max]
                if batch:
                    await self._round_trip(batch)
        finally:
            self._sender = None
            # Cancelled (shutdown): nothing that was not answered counts as answered.
            for command in self._queue:
                if not command.done.done():
                    command.done.cancel()
            self._queue.clear()

    async def _round_trip(self, batch: list[_Command]) -> None:
        # Scripts go as EVALSHA and are loaded only on NOSCRIPT: a redis-py pipeline given the
        # scripts themselves asks SCRIPT EXISTS before every execute, a round trip per batch.
        packed: list[bytes] = []
        sent: list[_Command] = []
        for command in batch:
            args = command.args
            if command.script is not None:
                args = ("EVALSHA", command.script.sha, *args)
            try:
                packed.append(pack_command(args))
            except (TypeError, ValueError) as exc:  # None, a bool, text that is not UTF-8
                _settle(command, DataError(f"cannot send this command: {exc}"))
                continue
            sent.append(command)
        if not sent:
            return
        self.round_trips += 1
        try:
            replies = await self._replies(packed, len(sent))
        except asyncio.CancelledError:
            for command in sent:
                command.done.cancel()
            raise
        except Exception as exc:
            for command in sent:
                _settle(command, exc)
            return
        callbacks = self._redis.response_callbacks
        unloaded: list[_Command] = []
        for command, reply in zip(sent, replies, strict=True):
            if isinstance(reply, NoScriptError) and command.script and not command.reloaded:
                command.reloaded = True
                unloaded.append(command)  # not run: load the script, then run it again
                continue
            name = command.args[0] if command.script is None else "EVALSHA"
            if name in callbacks and not isinstance(reply, Exception):
                reply = callbacks[name](reply)
            _settle(command, reply)
        if unloaded:
            # Redis lost its script cache (a restart) or never had the script: load each once,
            # then these go first in the next batch (nothing of them ran, so the order holds).
            try:
                for script in {id(c.script): c.script for c in unloaded}.values():
                    assert script is not None
                    await self._redis.script_load(script.script)
            except Exception as exc:
                for command in unloaded:
                    _settle(command, exc)
                return
            self._queue[:0] = unloaded

    async def _replies(self, packed: list[bytes], replies: int) -> list[Any]:
        """The replies to ``packed``: through the batch's pipe (see rooms/redis_pipe.py), or
        through a pool connection where the client's connections cannot be piped."""
        if self._piped is not False:
            try:
                pipe = await self._pipe()
            except PipeUnavailable:
                self._piped = False
            else:
                return await pipe.retry.call_with_retry(
                    lambda: self._piped_exchange(packed, replies), _nothing_to_undo
                )
        pool = self._redis.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            result: list[Any] = await connection.retry.call_with_retry(
                lambda: self._exchange(connection, packed, replies),
                lambda _: connection.disconnect(),
            )
            return result
        except BaseException:
            # Replies may still be on their way: nobody may read them as theirs.
            await connection.disconnect(nowait=True)
            raise
        finally:
            await pool.release(connection)

    async def _pipe(self) -> RedisPipe:
        """The batch's pipe, opened again once the last one closed."""
        pipe = self._pipe_now
        if pipe is None or not pipe.usable:
            pipe = self._pipe_now = await RedisPipe.open(self._redis)
            self._piped = True
        return pipe

    async def _piped_exchange(self, packed: list[bytes], replies: int) -> list[Any]:
        return await (await self._pipe()).exchange(packed, replies)

    @staticmethod
    async def _exchange(connection: Connection, packed: list[bytes], replies: int) -> list[Any]:
        """Send the packed commands in one write, read their ``replies`` (an error reply as
        its exception). One deadline, the connection's socket timeout, bounds the whole
        exchange: redis-py's pipeline arms a timer per reply (~3 % of a join storm's CPU)."""
        out: list[Any] = []
        async with asyncio.timeout(connection.socket_timeout):
            await connection.send_packed_command(packed, check_health=False)
            for _ in range(replies):
                try:
                    out.append(await connection.read_response(timeout=math.inf))
                except ResponseError as exc:
                    out.append(exc)
        return out


async def _nothing_to_undo(_: Exception) -> None:
    """A failed pipe closed itself; the retry opens another."""


def _settle(command: _Command, reply: Any) -> None:
    if command.done.done():
        return
    if isinstance(reply, Exception):
        command.done.set_exception(reply)
        command.done.exception()  # retrieved: a caller that went away leaves no warning
    else:
        command.done.set_result(reply)
