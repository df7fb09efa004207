"""Real ``liveclass serve`` processes on free loopback ports, for cross-node tests.

Each node is a separate OS process running uvicorn, sharing one real Redis and one real
PostgreSQL, exactly as a deployment would. Start-up is awaited by reading the server's log
for uvicorn's "Uvicorn running on" line, logged once the socket listens (an event,
not a sleep; "Application startup complete" comes before the bind).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Node", "deployment_env", "free_port", "media_worker_id", "start_media", "start_node"]

# Only a node that fails waits this long; a loaded 2-core machine can take tens of seconds
# just to import aiortc and PyAV in a fresh interpreter.
STARTUP_TIMEOUT = 90.0

# Unique per test process (see the node ids below).
RUN_ID = uuid.uuid4().hex[:8]


def media_worker_id(name: str) -> str:
    """A worker id for ``start_media`` that no other suite on the same Redis uses."""
    return f"{name}-{RUN_ID}"


def deployment_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The settings every test deployment's nodes share: the database, Redis, the test
    identity provider's secret and one platform secret. Small pools: PostgreSQL's 100
    connections are shared by the suites running at once."""
    from tests.conftest import JWT_SECRET, SECRET_KEY

    return {
        "LIVECLASS_DATABASE_URL": database_url,
        "LIVECLASS_REDIS_URL": redis_url,
        "LIVECLASS_JWT_SECRET": JWT_SECRET,
        "LIVECLASS_SECRET_KEY": SECRET_KEY,
        "LIVECLASS_DB_POOL_SIZE": "4",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Node:
    name: str
    port: int
    process: asyncio.subprocess.Process
    log: list[str] = field(default_factory=list)
    #: Set on every new line of ``log`` (a test clears it, then waits for the next line).
    logged: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def kill(self) -> None:
        """kill -9: no drain, no goodbye."""
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def logs_of(*nodes: Node, last: int = 120) -> str:
    """The tail of each process's log, for a failure message (pytest truncates the repr)."""
    return "\n".join(f"--- {node.name} ---\n" + "\n".join(node.log[-last:]) for node in nodes)


async def _pump(
    stream: asyncio.StreamReader, node: Node, ready: asyncio.Event, marker: str
) -> None:
    while line := await stream.readline():
        text = line.decode(errors="replace").rstrip()
        node.log.append(text)
        node.logged.set()
        if marker in text:
            ready.set()


@asynccontextmanager
async def start_node(
    name: str,
    env: dict[str, str],
    data_dir: Path,
    *,
    startup_timeout: float = STARTUP_TIMEOUT,
    port: int | None = None,
) -> AsyncIterator[Node]:
    """A ``liveclass serve`` process, ready once it listens (on ``port``: a free one, or the
    one a test restarts a server on)."""
    port = port or free_port()
    argv = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    async with _start(
        name, argv, env, data_dir, port, "Uvicorn running on", startup_timeout
    ) as node:
        yield node


@asynccontextmanager
async def start_media(
    name: str, env: dict[str, str], data_dir: Path, *, startup_timeout: float = STARTUP_TIMEOUT
) -> AsyncIterator[Node]:
    """A ``liveclass media`` worker process (``name`` is its worker id), ready once it has
    registered."""
    env = {**env, "LIVECLASS_MEDIA_WORKER_ID": name}
    async with _start(
        name, ["media"], env, data_dir, 0, f"media worker {name} ready", startup_timeout
    ) as node:
        yield node


@asynccontextmanager
async def _start(
    name: str,
    argv: list[str],
    env: dict[str, str],
    data_dir: Path,
    port: int,
    marker: str,
    startup_timeout: float,
) -> AsyncIterator[Node]:
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")},
        **env,
        # Node ids name pub/sub channels, which Redis shares across database numbers: keep
        # suites running at once on one Redis (two checkouts) from hearing each other.
        "LIVECLASS_NODE_ID": f"{name}-{RUN_ID}",
        "LIVECLASS_DATA_DIR": str(data_dir),
        "LIVECLASS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LIVECLASS_LOG_LEVEL": "INFO",  # readiness is read from an INFO line
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *argv,
        env=full_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    node = Node(name, port, process)
    ready = asyncio.Event()
    assert process.stdout is not None
    pump = asyncio.create_task(_pump(process.stdout, node, ready, marker))
    try:
        waiter = asyncio.create_task(ready.wait())
        exited = asyncio.create_task(process.wait())
        await asyncio.wait(
            {waiter, exited}, timeout=startup_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        exited.cancel()
        if not ready.is_set():
            raise RuntimeError(f"node {name} did not start:\n" + "\n".join(node.log[-40:]))
        yield node
    finally:
        await node.stop()
        pump.cancel()
