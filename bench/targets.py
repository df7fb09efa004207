"""The servers a run can target, and how the bench starts them and addresses their rooms.

=================  =========  =====================================================
target             dialect    what runs
=================  =========  =====================================================
liveclass          liveclass  ``liveclass serve``: SQLite + in-process fakeredis
liveclass-redis    liveclass  ``liveclass serve``: real Redis (+ SQLite or PostgreSQL)
websockets         plain      ``bench.servers.ws_broadcast`` (websockets.broadcast)
python-socketio    socketio   ``bench.servers.socketio_rooms`` (ASGI under uvicorn)
node-socketio      socketio   ``bench/node/server.js`` (socket.io 4 on Node)
url                any        a server already running at ``--url`` (not spawned)
=================  =========  =====================================================

``liveclass@DIR`` and ``liveclass-redis@DIR`` spawn liveclass from another source tree (e.g.
``git archive`` of an older commit): a before/after comparison in one run.

liveclass targets get every feature on (auth, presence, the bus, persisted chat) and their
default limits; the servers the bench spawns are pinned to ``server_cores``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.frames import Dialect
from bench.liveclass_rooms import LiveclassRooms
from bench.results import package_version
from bench.servers.spawn import free_port, run_once, spawn
from bench.tokens import Minter

__all__ = [
    "BASELINES",
    "NODE_DIR",
    "REPO",
    "TARGETS",
    "Target",
    "TargetOptions",
    "node_setup",
    "parse_targets",
    "split_target",
    "start_target",
]

REPO = Path(__file__).resolve().parent.parent
NODE_DIR = Path(__file__).resolve().parent / "node"
TARGETS = ("liveclass", "liveclass-redis", "websockets", "python-socketio", "node-socketio")
BASELINES = TARGETS[2:]
DIALECTS = {
    "liveclass": Dialect.LIVECLASS,
    "liveclass-redis": Dialect.LIVECLASS,
    "websockets": Dialect.PLAIN,
    "python-socketio": Dialect.SOCKETIO,
    "node-socketio": Dialect.SOCKETIO,
}
BENCH_DB = "liveclass_bench"


@dataclass
class TargetOptions:
    server_cores: list[int] | None = None
    redis_url: str = "redis://127.0.0.1:6379/14"
    postgres_url: str | None = None  # an admin URL: the bench (re)creates liveclass_bench
    url: str | None = None
    dialect: str = "liveclass"
    secret: str | None = None
    token_cmd: str | None = None
    server_pid: int | None = None
    profile: Path | None = None  # a spawned liveclass runs under cProfile, its stats here
    # a spawned liveclass runs under bench/servers/stalls.py, its record here
    stall_monitor: Path | None = None


@dataclass
class Target:
    """A server under test: where it is, how to talk to it, and how to set up its rooms."""

    name: str
    dialect: Dialect
    http_url: str
    pid: int | None
    spawned: bool
    minter: Minter | None = None
    redis_url: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    _rooms: list[LiveclassRooms] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dialect": self.dialect.value,
            "url": self.http_url,
            "spawned": self.spawned,
            "pid": self.pid,
            **self.info,
        }

    async def room_urls(self, rooms: int, clients: int, run_id: str) -> list[list[str]]:
        """Every client's WebSocket URL, room by room (for liveclass: with a room token)."""
        if self.dialect is Dialect.LIVECLASS:
            if self.minter is None:
                raise ValueError("liveclass needs --secret or --token-cmd to mint tokens")
            self._rooms.append(LiveclassRooms(self.http_url, self.minter, run_id))
            return await self._rooms[-1].prepare(rooms, clients)
        parts = urlsplit(self.http_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = "/socket.io/" if self.dialect is Dialect.SOCKETIO else "/"
        prefix = "EIO=4&transport=websocket&" if self.dialect is Dialect.SOCKETIO else ""
        return [
            [
                urlunsplit(
                    (scheme, parts.netloc, path, f"{prefix}room={run_id}-{r}&user=u{r}-{i}", "")
                )
                for i in range(clients)
            ]
            for r in range(rooms)
        ]

    async def cleanup(self) -> None:
        for rooms in self._rooms:
            await rooms.cleanup()


#: What bench/node needs: socket.io (the baseline server), ws and socket.io-client (the Node
#: load generator of ``crosscheck``).
NODE_PACKAGES = ("socket.io", "socket.io-client", "ws")


def node_setup(*, quiet: bool = False) -> None:
    """Install bench/node's packages from its lockfile (npm ci), once."""
    if all((NODE_DIR / "node_modules" / p / "package.json").is_file() for p in NODE_PACKAGES):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for bench/node (apt-get install npm)")
    if (NODE_DIR / "package-lock.json").is_file():
        argv = [npm, "ci", "--no-audit", "--no-fund"]
    else:
        argv = [npm, "install", "--no-audit", "--no-fund"]
    subprocess.run(argv, cwd=NODE_DIR, check=True, capture_output=quiet)


def _node_info() -> dict[str, Any]:
    node = shutil.which("node") or "/usr/bin/node"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    package = NODE_DIR / "node_modules" / "socket.io" / "package.json"
    sio = json.loads(package.read_text())["version"] if package.is_file() else None
    return {"node": version, "socket.io": sio}


async def _prepare_postgres(admin_url: str) -> str:
    """(Re)create the bench's own database next to ``admin_url``'s; its URL."""
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_DB}", "", ""))


def split_target(name: str) -> tuple[str, Path]:
    """``liveclass@DIR`` → (``liveclass``, DIR); any other name → (name, this repository)."""
    base, _, source = name.partition("@")
    if source and base not in ("liveclass", "liveclass-redis"):
        raise ValueError(f"only liveclass targets take a source tree: {name!r}")
    return base, Path(source).resolve() if source else REPO


def parse_targets(text: str) -> list[str] | None:
    """The comma-separated target names of ``--targets``; None (having said which on stderr)
    when one is not a known target."""
    targets = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in targets if split_target(t)[0] not in TARGETS]
    if unknown:
        print(f"unknown targets: {', '.join(unknown)}", file=sys.stderr)
        return None
    return targets


@asynccontextmanager
async def _liveclass(name: str, options: TargetOptions) -> AsyncIterator[Target]:
    kind, source = split_target(name)
    port = free_port()
    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="liveclass-bench-") as data:
        env = {
            "LIVECLASS_DATA_DIR": data,
            "LIVECLASS_JWT_SECRET": secret,
            "LIVECLASS_SECRET_KEY": secrets.token_urlsafe(32),
            "LIVECLASS_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "LIVECLASS_NODE_ID": f"bench-{port}",
            "LIVECLASS_LOG_LEVEL": "INFO",
        }
        info: dict[str, Any] = {"liveclass": package_version("liveclass"), "redis": "fakeredis"}
        if source != REPO:
            info["source"] = str(source)
        redis_url = None
        if kind == "liveclass-redis":
            redis_url = options.redis_url
            env["LIVECLASS_REDIS_URL"] = redis_url
            info["redis"] = redis_url
            if options.postgres_url:
                database = await _prepare_postgres(options.postgres_url)
                env["LIVECLASS_DATABASE_URL"] = database
                await run_once(
                    [sys.executable, "-m", "api.cli", "db", "upgrade"], env=env, cwd=source
                )
                info["database"] = database
        info.setdefault("database", "sqlite")
        # The profile is written when the server exits (SIGTERM: a graceful shutdown).
        profiler = ["-m", "bench.servers.profiled", str(options.profile)] if options.profile else []
        if options.stall_monitor:
            # By path: the tree under test (liveclass@DIR) may not have it.
            profiler = [str(REPO / "bench" / "servers" / "stalls.py"), str(options.stall_monitor)]
        argv = [
            sys.executable,
            *(profiler or ["-m"]),
            "api.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        async with spawn(
            name,
            argv,
            port=port,
            ready="Uvicorn running on",  # once it listens (startup completes before the bind)
            env=env,
            cores=options.server_cores,
            cwd=source,  # python -m runs the tree in the working directory
        ) as server:
            yield Target(
                name,
                Dialect.LIVECLASS,
                server.http_url,
                server.pid,
                True,
                minter=Minter(secret=secret),
                redis_url=redis_url,
                info=info,
            )


@asynccontextmanager
async def _baseline(name: str, options: TargetOptions) -> AsyncIterator[Target]:
    port = free_port()
    if name == "node-socketio":
        await asyncio.to_thread(node_setup, quiet=True)
        node = shutil.which("node") or "/usr/bin/node"
        argv = [node, str(NODE_DIR / "server.js"), str(port)]
        info = _node_info()
    elif name == "websockets":
        argv = [sys.executable, "-m", "bench.servers.ws_broadcast", "--port", str(port)]
        info = {"websockets": package_version("websockets")}
    else:
        argv = [sys.executable, "-m", "bench.servers.socketio_rooms", "--port", str(port)]
        info = {
            "python-socketio": package_version("python-socketio"),
            "uvicorn": package_version("uvicorn"),
        }
    async with spawn(
        name, argv, port=port, ready="READY", cores=options.server_cores, cwd=REPO
    ) as server:
        yield Target(name, DIALECTS[name], server.http_url, server.pid, True, info=info)


@asynccontextmanager
async def start_target(name: str, options: TargetOptions) -> AsyncIterator[Target]:
    """The target ``name`` running (spawned here, or ``url``: the one at ``options.url``)."""
    if name == "url":
        if not options.url:
            raise ValueError("--url is needed")
        minter = None
        if options.secret or options.token_cmd:
            minter = Minter(secret=options.secret, token_cmd=options.token_cmd)
        yield Target(
            "url",
            Dialect(options.dialect),
            options.url.rstrip("/"),
            options.server_pid,
            False,
            minter=minter,
        )
    elif split_target(name)[0] in ("liveclass", "liveclass-redis"):
        async with _liveclass(name, options) as target:
            yield target
    elif name in BASELINES:
        async with _baseline(name, options) as target:
            yield target
    else:
        raise ValueError(f"unknown target {name!r}; one of {', '.join(TARGETS)} or url")
