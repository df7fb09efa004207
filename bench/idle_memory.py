"""What one more idle connection costs a server, in RSS: liveclass and the baselines, same run.

    .venv/bin/python -m bench.idle_memory [--clients 500] [--warm 20] [--targets ...]

For each target: start it (as ``liveclass-bench`` does), open ``--warm`` connections to one
room first (one-time costs: the room, caches, lazily imported code), read the server's RSS,
open ``--clients`` more to the same room and let them sit idle (liveclass clients wait for
their ``welcome``, socket.io clients join the namespace), read the RSS again. The figure is
the difference over ``--clients``: the *marginal* cost of an idle connection. The compare
table's KiB/conn is measured the same way (``bench/execute.py`` opens warm-up connections
before the run's clients join, here :func:`open_idle` and :func:`keep_idle`), with the
warm-up in a room of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time

from websockets.asyncio.client import ClientConnection, connect

from bench.frames import Dialect
from bench.targets import TargetOptions, start_target

__all__ = ["keep_idle", "main", "measure", "open_idle"]

SETTLE_SECONDS = 3.0  # after the last connection: let joins and presence upkeep finish


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def open_idle(dialect: Dialect, url: str) -> ClientConnection:
    """A connection of ``dialect`` at ``url``, joined (liveclass: its ``welcome`` read;
    socket.io: the namespace joined), to be left idle."""
    ws = await connect(url, max_queue=None, open_timeout=60)
    if dialect is Dialect.LIVECLASS:
        async with asyncio.timeout(60):
            while "welcome" not in str(await ws.recv()):
                pass
    elif dialect is Dialect.SOCKETIO:
        async with asyncio.timeout(60):
            while not str(await ws.recv()).startswith("0"):  # Engine.IO open
                pass
        await ws.send("40")  # join the default namespace
        async with asyncio.timeout(60):
            while not str(await ws.recv()).startswith("40"):
                pass
    return ws


async def keep_idle(ws: ClientConnection, dialect: Dialect) -> None:
    """Read and drop what ``ws`` receives until it closes; answer socket.io's pings (which
    its server would otherwise close the connection for)."""
    with contextlib.suppress(Exception):
        async for frame in ws:
            if dialect is Dialect.SOCKETIO and frame == "2":
                await ws.send("3")


async def measure(name: str, clients: int, warm: int, options: TargetOptions) -> dict[str, float]:
    """The marginal RSS per idle connection of target ``name`` (KiB), and what it was read
    from."""
    async with start_target(name, options) as target:
        assert target.pid is not None, "the target must run on this machine"
        (urls,) = await target.room_urls(1, warm + clients, f"mem-{int(time.time())}")
        sockets = [await open_idle(target.dialect, url) for url in urls[:warm]]
        await asyncio.sleep(SETTLE_SECONDS)
        before = _rss_kib(target.pid)
        gate = asyncio.Semaphore(50)

        async def one(url: str) -> ClientConnection:
            async with gate:
                return await open_idle(target.dialect, url)

        sockets += await asyncio.gather(*(one(url) for url in urls[warm:]))
        await asyncio.sleep(SETTLE_SECONDS)
        after = _rss_kib(target.pid)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await target.cleanup()
    return {
        "kib_per_connection": round((after - before) / clients, 1),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "clients": clients,
        "warm": warm,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=490)
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--targets", default="liveclass,liveclass-redis,node-socketio,websockets")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    options = TargetOptions(redis_url=args.redis_url)
    results: dict[str, dict[str, float]] = {}
    for name in args.targets.split(","):
        results[name] = asyncio.run(measure(name, args.clients, args.warm, options))
        print(f"{name:18} {results[name]['kib_per_connection']:6.1f} KiB per idle connection")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
