"""Slowloris and idle connections against a real ``liveclass serve``, on loopback only.

``python -m bench.edge_flood [--slow N] [--silent N] [--addresses K]`` starts a server with
its defaults (embedded stores) on a free port, opens ``--slow`` connections that send a
request head one header line every 2 s and ``--silent`` ones that send nothing, from
127.0.0.2 .. 127.0.0.(K+1), and asks ``/healthz`` every 100 ms meanwhile. It prints when the
server closed them (over a per-address cap: at once; the rest: at the header timeout),
how ``/healthz`` fared, and the tracebacks in the server's log (there must be none). Every
connection is given up after 40 s; the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.servers.spawn import free_port, spawn

__all__ = ["main"]

GIVE_UP = 40.0


async def _held(port: int, address: str, slow: bool) -> float | None:
    """Seconds until the server closed the connection; None if it never did."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    opened = time.monotonic()

    async def trickle() -> None:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(OSError):
            for n in range(int(GIVE_UP / 2)):
                await asyncio.sleep(2)
                writer.write(b"X-%d: y\r\n" % n)
                await writer.drain()

    trickling = asyncio.create_task(trickle()) if slow else None
    try:
        async with asyncio.timeout(GIVE_UP):
            while await reader.read(65536):
                pass
        return time.monotonic() - opened
    except (TimeoutError, OSError):
        return None
    finally:
        if trickling is not None:
            trickling.cancel()
        writer.close()


async def _run(slow: int, silent: int, addresses: int, data_dir: Path) -> int:
    port = free_port()
    env = {"LIVECLASS_DATA_DIR": str(data_dir), "LIVECLASS_PORT": str(port)}
    argv = [sys.executable, "-m", "api.cli", "serve"]
    ready = "Uvicorn running on"  # logged once it listens (startup completes before the bind)
    async with spawn("liveclass", argv, port=port, ready=ready, env=env) as server:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
            held = [
                asyncio.create_task(_held(port, f"127.0.0.{2 + i % addresses}", i < slow))
                for i in range(slow + silent)
            ]
            latencies: list[float] = []
            failed = 0
            started = time.monotonic()
            while not all(t.done() for t in held) and time.monotonic() - started < GIVE_UP + 5:
                begin = time.monotonic()
                try:
                    ok = (await http.get("/healthz")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                failed += not ok
                latencies.append((time.monotonic() - begin) * 1000)
                await asyncio.sleep(0.1)
            closes = await asyncio.gather(*held)
        log = list(server.log)
    closed = sorted(c for c in closes if c is not None)
    at_once = [c for c in closed if c < 1]
    later = [c for c in closed if c >= 1]
    print(
        f"{slow} slowloris + {silent} silent connections from {addresses} address(es): "
        f"{len(at_once)} closed at once (over a cap), {len(later)} after "
        f"{later[0] if later else 0:.2f}-{later[-1] if later else 0:.2f} s, "
        f"{len(closes) - len(closed)} never"
    )
    if latencies:
        print(
            f"/healthz meanwhile: {len(latencies)} requests, {failed} failed, "
            f"median {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms"
        )
    tracebacks = sum("Traceback" in line for line in log)
    print(f"tracebacks in the server log (its last {len(log)} lines): {tracebacks}")
    return 1 if tracebacks or failed or len(closed) < len(closes) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=1500)
    parser.add_argument("--silent", type=int, default=3000)
    parser.add_argument("--addresses", type=int, default=3, choices=range(1, 200))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edge-flood-") as tmp:
        return asyncio.run(_run(args.slow, args.silent, args.addresses, Path(tmp)))


if __name__ == "__main__":
    raise SystemExit(main())
