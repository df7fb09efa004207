"""Backing services a test can break: a private ``redis-server`` it restarts, and a TCP proxy
in front of PostgreSQL it cuts.

Both wait on events (redis-server's own "Ready to accept connections" line, the proxy's
listening socket), never on a fixed sleep or a poll, and their teardown is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from redis.asyncio import Redis

from tests.integration.cluster import free_port

__all__ = ["PrivateRedis", "TcpProxy"]


class PrivateRedis:
    """A ``redis-server`` of this test only, without persistence: a restart loses every
    key, as a crashed cache node without AOF would."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None
        self.log: list[str] = []
        self._drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, within: float = 30.0) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        output = self.process.stdout
        # Logged once the socket listens, right before the event loop starts serving.
        async with asyncio.timeout(within):
            while True:
                line = (await output.readline()).decode(errors="replace")
                if not line:
                    await self.process.wait()
                    raise RuntimeError(
                        f"redis-server exited with {self.process.returncode}:\n"
                        + "".join(self.log[-20:])
                    )
                self.log.append(line)
                if "Ready to accept connections" in line:
                    break
        # Keep reading, so that a full pipe never blocks the server.
        self._drain = asyncio.create_task(self._read_log(output))
        client = Redis.from_url(self.url, socket_connect_timeout=5)
        try:
            assert await client.ping()
        finally:
            await client.aclose()

    async def _read_log(self, output: asyncio.StreamReader) -> None:
        while line := await output.readline():
            self.log.append(line.decode(errors="replace"))

    async def stop(self) -> None:
        """kill -9: no save, no goodbye; every key is gone."""
        process, self.process = self.process, None
        drain, self._drain = self._drain, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(20):
                    await process.wait()
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain


class TcpProxy:
    """Forwards a local port to ``target``; :meth:`cut` closes every forwarded connection
    and refuses new ones (the database is unreachable), :meth:`restore` listens again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        pipes = [
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
                self._pipes.discard(task)
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            # wait_closed() would wait for the handlers; they end once their sockets do.
        for w in list(self._writers):
            transport = w.transport
            transport.abort()
        self._writers.clear()
        for task in list(self._pipes):
            task.cancel()

    async def restore(self) -> None:
        await self.start()

    async def stop(self) -> None:
        await self.cut()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


class _Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=_Service)


@asynccontextmanager
async def running(service: S) -> AsyncIterator[S]:
    """``service`` started, and stopped afterwards (a fixture's body)."""
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
