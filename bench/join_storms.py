"""Where a join storm's server CPU goes: several 500-client storms on one spawned server, with
its cyclic GC recorded or a py-spy profile taken around the storms only.

    .venv/bin/python -m bench.join_storms --target liveclass-redis --storms 3 \
        --gc OUT.json  |  --py-spy OUT.txt [--native] \
        [--redis-url redis://127.0.0.1:6379/14] [--postgres-url postgresql://...]

The target is spawned as ``liveclass-bench`` spawns it (``liveclass``, ``liveclass-redis``,
``...@DIR``), pinned to core 0, this process on core 1. Every storm's room and tokens are
prepared first; then each storm's clients connect at once and wait for their ``welcome``
(held open until the end, so no leave is measured), one second apart. Each storm prints its
wall time and the server's CPU. ``--gc``: the server runs under ``bench/servers/stalls.py``,
recording between the first storm and the last (every collection's generation and CPU);
the summary is printed. ``--py-spy``: ``py-spy record -r 1000 --format raw`` (collapsed
stacks; installed separately: ``pip install py-spy``) is attached for the storms only.
``--native`` unwinds C frames too, but slows the server tenfold: its clients' presence may
expire before the last storm.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.liveclass_rooms import LiveclassRooms
from bench.servers.stalls import summary
from bench.targets import TargetOptions, start_target

__all__ = ["main"]


async def _join(url: str) -> ClientConnection:
    ws = await connect(
        url,
        subprotocols=["liveclass.v1.json"],  # type: ignore[list-item]
        compression=None,
        ping_interval=None,
        open_timeout=60,
    )
    first = await ws.recv()
    if '"welcome"' not in str(first)[:40]:
        raise RuntimeError(f"expected a welcome, got {str(first)[:200]}")
    return ws


async def _run(args: argparse.Namespace) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})
    options = TargetOptions(
        server_cores=[0],
        redis_url=args.redis_url,
        postgres_url=args.postgres_url,
        stall_monitor=args.gc.resolve() if args.gc else None,
    )
    async with start_target(args.target, options) as target:
        assert target.pid is not None
        assert target.minter is not None
        rooms = [
            LiveclassRooms(target.http_url, target.minter, secrets.token_hex(3))
            for _ in range(args.storms)
        ]
        urls = [(await r.prepare(1, args.clients))[0] for r in rooms]
        server = psutil.Process(target.pid)
        await asyncio.sleep(1.0)
        spy = None
        if args.py_spy:
            tool = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            argv = [tool, "record", "-r", "1000", "--pid", str(target.pid), "--format", "raw"]
            argv += ["-o", str(args.py_spy), *(["--native"] if args.native else [])]
            spy = await asyncio.create_subprocess_exec(
                *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            await asyncio.sleep(1.5)  # attached
        if args.gc:
            os.kill(target.pid, signal.SIGUSR1)
        held: list[ClientConnection] = []
        try:
            for i, room in enumerate(urls):
                cpu, wall = sum(server.cpu_times()[:2]), time.monotonic()
                held += await asyncio.gather(*(_join(url) for url in room))
                cpu, wall = sum(server.cpu_times()[:2]) - cpu, time.monotonic() - wall
                print(f"storm {i}: {wall:.3f} s wall, server CPU {cpu:.3f} s", flush=True)
                await asyncio.sleep(1.0)
        finally:
            if args.gc:
                os.kill(target.pid, signal.SIGUSR2)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                await asyncio.wait_for(spy.wait(), 60)
            for ws in held:
                await ws.close()
            for r in rooms:
                await r.cleanup()
    if args.gc:
        print(summary(json.loads(args.gc.read_text())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.join_storms", description=__doc__)
    parser.add_argument("--target", default="liveclass-redis")
    parser.add_argument("--storms", type=int, default=3)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--gc", type=Path, help="record the server's GC collections here")
    what.add_argument("--py-spy", type=Path, help="write py-spy's collapsed stacks here")
    parser.add_argument("--native", action="store_true", help="py-spy: C frames too")
    args = parser.parse_args(argv)
    asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
