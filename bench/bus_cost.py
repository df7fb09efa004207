"""What one bus event costs, in process: the embedded default's in-process bus
(``rooms/local_bus.py``) against Redis pub/sub on fakeredis (what the embedded default used
before) and on a real Redis, same run.

    .venv/bin/python -m bench.bus_cost [--events 20000] [--redis-url redis://127.0.0.1:6379/14]

For each bus: one publisher and one subscriber (the hub's listener) on one event loop; a chat
``msg`` event (a ~100-byte chat message, as the hub publishes it) published ``--events`` times
in bursts of 10, each burst read back before the next. The figures: this process's CPU time
per event (publish + deliver + decode; for Redis, Redis's own CPU is not included) and the
publish → receive latency's median and p99. Rounds alternate between the buses
(``--rounds``), so a machine whose load drifts affects each alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from rooms.bus import RoomBus
from rooms.bus_events import BusEvent, RoomMessage
from rooms.bus_port import Bus
from rooms.local_bus import LocalBroker, LocalBus
from rooms.redis_client import close_redis, connect_redis

__all__ = ["main", "measure"]

BURST = 10


def _event(i: int) -> BusEvent:
    message = {
        "type": "chat",
        "id": f"m{i}",
        "seq": i,
        "from": {"id": "p-0123456789", "userId": "u-1", "name": "Student 1", "role": "guest"},
        "text": "x" * 48,
        "ts": "2026-12-06T18:00:00.000Z",
    }
    return RoomMessage("room-1", message, "node-a", sent_at=time.time())


@asynccontextmanager
async def _buses(kind: str, redis_url: str) -> AsyncIterator[tuple[Bus, Bus]]:
    if kind == "local":
        broker = LocalBroker()
        yield LocalBus(broker), LocalBus(broker)
        return
    redis = connect_redis(None if kind == "fakeredis" else redis_url)
    publisher, subscriber = RoomBus(redis), RoomBus(redis)
    try:
        yield publisher, subscriber
    finally:
        await subscriber.close()
        await close_redis(redis)


async def measure(kind: str, events: int, redis_url: str) -> dict[str, float]:
    """CPU µs per event and latency percentiles (µs) of ``kind`` (local, fakeredis, redis)."""
    async with _buses(kind, redis_url) as (publisher, subscriber):
        await subscriber.subscribe(subscriber.room_channel("room-1"))
        inbox = subscriber.events(poll_timeout=0.05)
        latencies: list[float] = []
        clock: Callable[[], float] = time.perf_counter
        cpu = time.process_time()
        for first in range(0, events, BURST):
            sent: list[float] = []
            for i in range(first, first + BURST):
                sent.append(clock())
                await publisher.publish(_event(i))
            for stamp in sent:
                await anext(inbox)
                latencies.append(clock() - stamp)
        cpu = time.process_time() - cpu
        await inbox.aclose()  # type: ignore[attr-defined]
    latencies.sort()
    return {
        "cpu_us_per_event": cpu * 1e6 / events,
        "p50_us": latencies[len(latencies) // 2] * 1e6,
        "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--buses", default="local,fakeredis,redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    kinds = args.buses.split(",")
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for _ in range(args.rounds):
        for kind in kinds:
            runs[kind].append(asyncio.run(measure(kind, args.events, args.redis_url)))
    print(f"{'bus':10} {'CPU µs/event':>14} {'p50 µs':>8} {'p99 µs':>8}   (median of rounds)")
    for kind, results in runs.items():
        cells = [statistics.median(r[key] for r in results) for key in results[0]]
        print(f"{kind:10} {cells[0]:14.1f} {cells[1]:8.0f} {cells[2]:8.0f}")


if __name__ == "__main__":
    main()
