"""A TCP proxy that cuts or silences a connection on cue: a database or a network that
fails mid-conversation, for the PostgreSQL writer's and the pool's tests."""

from __future__ import annotations

import asyncio

__all__ = ["CuttingProxy"]


class CuttingProxy:
    """A TCP proxy to PostgreSQL that, once armed, drops the connection at the next chunk in
    one direction without passing it on: ``"reply"`` (the server acted, the client never
    hears) or ``"request"`` (the server never hears). With ``stall`` set, it swallows that
    chunk and every later one of that connection instead, and keeps the connection open: a
    database or a network that goes silent."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self.armed: str | None = None
        self.stall = False
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        done = asyncio.Event()
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, "request", done)),
            asyncio.create_task(self._pump(up_reader, writer, "reply", done)),
        ]
        self._tasks.update(pumps)
        await done.wait()
        for task in pumps:
            task.cancel()
        for w in (writer, up_writer):
            w.transport.abort()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        direction: str,
        done: asyncio.Event,
    ) -> None:
        try:
            silent = False
            while chunk := await reader.read(65536):
                if self.armed == direction:
                    self.armed = None
                    self.cuts += 1
                    if not self.stall:
                        return
                    silent = True
                if silent:
                    continue
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            done.set()
