"""How long one chat-sized INSERT takes PostgreSQL to commit, one every 50 ms (a class's pace),
with the server's synchronous commit or without waiting for the WAL flush; and what a flush
barrier costs (``pg_logical_emit_message`` in a transaction of its own, the barrier of
``rooms/store/pg_writer.py``) against a bare ``txid_current()``, which writes no WAL and so
waits for no flush.

    .venv/bin/python bench/results/20261207-s14-durable/pg_commit_stalls.py \
        [--url postgresql://postgres@127.0.0.1:5432/test] [--seconds 40]

Prints p50, p99, the longest and every commit over 10 ms with the time it happened.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg

TABLE = "s14_commit_stalls"


def summary(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    return (
        f"{name}: n {len(ordered)} p50 {ordered[len(ordered) // 2]:.3f} "
        f"p99 {ordered[int(len(ordered) * 0.99)]:.3f} max {ordered[-1]:.1f} ms, "
        f"{sum(1 for m in ordered if m > 10)} over 10 ms"
    )


async def commits(url: str, seconds: float, synchronous: bool) -> list[float]:
    settings = {} if synchronous else {"synchronous_commit": "off"}
    conn = await asyncpg.connect(url, server_settings=settings)
    await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    await conn.execute(f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, seq int, text text)")
    ms: list[float] = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            await asyncio.sleep(0.05)
            start = time.perf_counter()
            await conn.executemany(
                f"INSERT INTO {TABLE} (seq, text) VALUES ($1, $2)", [(len(ms), "x" * 100)]
            )
            took = (time.perf_counter() - start) * 1e3
            ms.append(took)
            if took > 10:
                print(f"  {took:.1f} ms at {time.strftime('%H:%M:%S')}", flush=True)
    finally:
        await conn.execute(f"DROP TABLE {TABLE}")
        await conn.close()
    return ms


async def barriers(url: str, seconds: float) -> dict[str, list[float]]:
    writer = await asyncpg.connect(url, server_settings={"synchronous_commit": "off"})
    barrier = await asyncpg.connect(url)
    await writer.execute(f"DROP TABLE IF EXISTS {TABLE}")
    await writer.execute(f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, seq int, text text)")
    queries = {
        "txid_current (no WAL: no flush)": "SELECT txid_current()",
        "pg_logical_emit_message (the barrier)": (
            "SELECT pg_logical_emit_message(true, 'liveclass', 'flush')"
        ),
    }
    out: dict[str, list[float]] = {}
    try:
        for name, sql in queries.items():
            ms = out[name] = []
            end = time.monotonic() + seconds / 2
            while time.monotonic() < end:
                await asyncio.sleep(0.05)
                await writer.executemany(
                    f"INSERT INTO {TABLE} (seq, text) VALUES ($1, $2)", [(len(ms), "x" * 100)]
                )
                start = time.perf_counter()
                await barrier.fetchval(sql)
                ms.append((time.perf_counter() - start) * 1e3)
    finally:
        await writer.execute(f"DROP TABLE {TABLE}")
        await writer.close()
        await barrier.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seconds", type=float, default=40.0)
    args = parser.parse_args()
    print("synchronous commit (the server's setting):")
    print(summary("  commit", await commits(args.url, args.seconds, synchronous=True)))
    print("synchronous_commit = off (the chat writer's connection):")
    print(summary("  commit", await commits(args.url, args.seconds, synchronous=False)))
    print("a barrier after each commit (on a second connection):")
    for name, ms in (await barriers(args.url, args.seconds)).items():
        print(summary(f"  {name}", ms))


if __name__ == "__main__":
    asyncio.run(main())
