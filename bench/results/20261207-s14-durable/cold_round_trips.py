"""One round trip to PostgreSQL (a one-row INSERT) and to Redis (an INCR), back to back and after
50 ms idle (a class's pace: every chat message finds the services asleep), p50 and p90.

    .venv/bin/python bench/results/20261207-s14-durable/cold_round_trips.py
"""

from __future__ import annotations

import asyncio
import statistics
import time

import asyncpg
from redis.asyncio import Redis


def summary(ms: list[float]) -> str:
    return f"p50 {statistics.median(ms):.3f} p90 {sorted(ms)[int(len(ms) * 0.9)]:.3f} ms"


async def main() -> None:
    pg = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    await pg.execute("CREATE TEMP TABLE s14_rt (id serial PRIMARY KEY, v text)")
    redis = Redis.from_url("redis://127.0.0.1:6379/12")
    await redis.ping()
    try:
        for idle in (0.0, 0.05):
            pg_ms: list[float] = []
            redis_ms: list[float] = []
            for _ in range(100):
                if idle:
                    await asyncio.sleep(idle)
                start = time.perf_counter()
                await pg.executemany("INSERT INTO s14_rt (v) VALUES ($1)", [("x",)])
                pg_ms.append((time.perf_counter() - start) * 1e3)
                if idle:
                    await asyncio.sleep(idle)
                start = time.perf_counter()
                await redis.incr("s14:rt")
                redis_ms.append((time.perf_counter() - start) * 1e3)
            label = f"idle {idle * 1e3:.0f} ms"
            print(f"{label}: PostgreSQL {summary(pg_ms)}; Redis {summary(redis_ms)}")
    finally:
        await redis.delete("s14:rt")
        await redis.aclose()
        await pg.close()


if __name__ == "__main__":
    asyncio.run(main())
