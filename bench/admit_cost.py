"""What a join's admission costs this process, in process: the in-process presence (the
embedded default, ``rooms/presence/local.py``), the admission script
(``rooms/presence/scripts/admit.lua``, one per join) on fakeredis (the embedded default
before) and on a real Redis, same run.

    .venv/bin/python -m bench.admit_cost [--joins 500] [--rounds 3] \
        [--redis-url redis://127.0.0.1:6379/14]

For each backend: a live room of ``--joins`` seats, ``--joins`` guests admitted one after the
other with a resume token each, as students who may wait (as ``Seating.join`` does). The
figure is this process's CPU time per admission: on fakeredis that is the script itself
(fakeredis runs every command, and every ``redis.call`` of a script, in this process: it was
the largest single cost of a join on the embedded default), on Redis the client's side only;
in process, a few dict operations. The Redis
database is flushed before and after. Rounds alternate between the backends.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from rooms.model import RoomRole
from rooms.presence import LocalPresence, Presence, PresenceEntry, RedisPresence, ResumeSave
from rooms.redis_client import close_redis, connect_redis

__all__ = ["main", "measure"]


async def measure(url: str | None, joins: int, *, local: bool = False) -> float:
    """CPU µs per admission on ``url`` (None: fakeredis), or in process (``local``)."""
    redis = connect_redis(url)
    try:
        if url is not None:
            await redis.flushdb()
        presence: Presence = LocalPresence(redis) if local else RedisPresence(redis)
        await presence.load_room("bench-room", "live", joins)
        cpu = time.process_time()
        for i in range(joins):
            entry = PresenceEntry(
                f"p{i}", f"u{i}", f"User {i}", RoomRole.GUEST, "ws", "node-a", presence.now_ms()
            )
            await presence.admit(
                "bench-room", entry, 60, resume=ResumeSave(f"t{i}", 3600), may_wait=True
            )
        cpu = time.process_time() - cpu
        if url is not None:
            await redis.flushdb()
    finally:
        await close_redis(redis)
    return cpu * 1e6 / joins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joins", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    backends: dict[str, str | None] = {
        "in-process": None,
        "fakeredis": None,
        "redis": args.redis_url,
    }
    runs: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(args.rounds):
        for name, url in backends.items():
            runs[name].append(asyncio.run(measure(url, args.joins, local=name == "in-process")))
    for name, values in runs.items():
        cells = " ".join(f"{v:.0f}" for v in values)
        print(f"{name:10} {statistics.median(values):6.0f} µs CPU per admission (rounds: {cells})")


if __name__ == "__main__":
    main()
