"""Running a server as a child process, pinned to its cores, until it says it is ready.

The child gets a clean environment (a fixed ``PATH`` plus what the caller passes), so the
bench never reads or forwards the operator's own ``LIVECLASS_*`` settings by accident. Its
output is read line by line (kept: the last lines, shown if it fails) and readiness is the
first line containing the ``ready`` marker, e.g. uvicorn's "Uvicorn running on" (its
"Application startup complete" comes before the socket listens).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BASE_ENV", "ServerProcess", "free_port", "spawn"]

BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    name: str
    port: int
    process: asyncio.subprocess.Process
    log: deque[str] = field(default_factory=lambda: deque(maxlen=200))

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self, grace: float = 20.0) -> None:
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


def _pinner(cores: list[int] | None) -> Callable[[], None] | None:
    if not cores:
        return None
    chosen = set(cores)

    def pin() -> None:
        os.sched_setaffinity(0, chosen)

    return pin


async def _pump(
    stream: asyncio.StreamReader, server: ServerProcess, ready: asyncio.Event, marker: str
) -> None:
    while line := await stream.readline():
        text = line.decode(errors="replace").rstrip()
        server.log.append(text)
        if marker in text:
            ready.set()


@asynccontextmanager
async def spawn(
    name: str,
    argv: list[str],
    *,
    port: int,
    ready: str,
    env: dict[str, str] | None = None,
    cores: list[int] | None = None,
    cwd: Path | None = None,
    startup: float = 60.0,
) -> AsyncIterator[ServerProcess]:
    """Start ``argv``; yield once it printed ``ready``; stop it (SIGTERM) on exit."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        env={**BASE_ENV, **(env or {})},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        preexec_fn=_pinner(cores),
    )
    server = ServerProcess(name, port, process)
    is_ready = asyncio.Event()
    assert process.stdout is not None
    pump = asyncio.create_task(_pump(process.stdout, server, is_ready, ready))
    try:
        waiter = asyncio.create_task(is_ready.wait())
        exited = asyncio.create_task(process.wait())
        await asyncio.wait({waiter, exited}, timeout=startup, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        exited.cancel()
        if not is_ready.is_set():
            raise RuntimeError(f"{name} did not start:\n" + "\n".join(list(server.log)[-30:]))
        yield server
    finally:
        await server.stop()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump


async def run_once(
    argv: list[str], *, env: dict[str, str], cwd: Path | None = None, limit: float = 120.0
) -> str:
    """Run a command to completion (e.g. a migration); its output, or RuntimeError."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        env={**BASE_ENV, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(process.communicate(), limit)
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}):\n{text[-3000:]}")
    return text
