"""What one chat message costs this process before its fan-out, on the embedded default (SQLite,
no Redis server): :meth:`ChatService.store` (the gate, the rate limit, the sequence number and
the group-committed insert) and the room log's append, same run, two ways:

- ``fakeredis+orm``: the gate, limiter, sequence and log on fakeredis, the row added through
  the ORM's unit of work (the embedded default before);
- ``local+orm``: all four in process (``rooms/local_room_state.py``), the row through the ORM;
- ``local+core``: all four in process, the row a Core INSERT (the embedded default now).

    .venv/bin/python -m bench.chat_cost [--messages 500] [--rounds 3] [--concurrency 1]

Messages are sent ``--concurrency`` at a time (1: each commits alone; more: they share a group
commit, as in a busy room). The figure is the main thread's CPU time per message (what a chat
message takes from the event loop; SQLite's own work runs on aiosqlite's thread and is not in
it). Rounds alternate between the ways.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from redis.asyncio import Redis

from rooms.chat import ChatService, Sender
from rooms.chat_moderation import ChatGate, StudentChatSwitch
from rooms.local_room_state import (
    LocalChatGate,
    LocalChatLimiter,
    LocalRoomLog,
    LocalRoomState,
    LocalSequence,
)
from rooms.model import RoomRole
from rooms.presence import LocalPresence
from rooms.ratelimit import ChatLimiter, ChatRateLimit
from rooms.redis_client import close_redis, connect_redis
from rooms.room_log import RoomLog
from rooms.sequence import RoomSequence, SequenceAllocator
from rooms.store import Database, create_database, upgrade_database
from rooms.store.tables import SessionRow
from rooms.store.types import utcnow

__all__ = ["main", "measure"]

WAYS = ("fakeredis+orm", "local+orm", "local+core")


async def measure(way: str, messages: int, concurrency: int, data_dir: Path) -> float:
    """CPU µs per chat message stored and logged ``way`` (one of :data:`WAYS`)."""
    database = create_database(f"sqlite:///{data_dir / f'{way}-{time.monotonic_ns()}.db'}")
    redis = connect_redis(None)
    try:
        await upgrade_database(database)
        sid = "bench-session"
        now = utcnow()
        async with database.transaction() as tx:
            tx.add(
                SessionRow(
                    id=sid,
                    tenant_id="t",
                    room_name="bench",
                    instructor_id="teacher",
                    instructor_name="Teacher",
                    title="Bench",
                    status="live",
                    scheduled_start=now,
                    scheduled_end=now + timedelta(hours=1),
                    max_participants=500,
                )
            )
        presence = LocalPresence(redis)
        chat, log = _chat(way, database, presence, redis)
        senders = [Sender(f"u{i}", f"User {i}", RoomRole.GUEST) for i in range(concurrency)]

        async def one(sender: Sender, i: int) -> None:
            row = await chat.store(sid, sender, f"message {i}")
            await log.append(sid, row.seq, {"type": "chat", "seq": row.seq, "text": row.text})

        await one(senders[0], -1)  # seeds the sequence, warms the statements
        cpu = time.thread_time()
        for start in range(0, messages, concurrency):
            await asyncio.gather(*(one(s, start + k) for k, s in enumerate(senders)))
        return (time.thread_time() - cpu) * 1e6 / messages
    finally:
        await close_redis(redis)
        await database.dispose()


def _chat(
    way: str, database: Database, presence: LocalPresence, redis: Redis
) -> tuple[ChatService, RoomLog]:
    rate, burst = 1e6, 1e6
    sequence: RoomSequence
    limiter: ChatRateLimit
    gate: StudentChatSwitch
    log: RoomLog
    if way.startswith("local"):
        state = LocalRoomState()
        sequence, log = LocalSequence(state), LocalRoomLog(redis, state)
        limiter, gate = LocalChatLimiter(state, rate=rate, burst=burst), LocalChatGate(state)
    else:
        sequence, log = SequenceAllocator(redis), RoomLog(redis)
        limiter, gate = ChatLimiter(redis, rate=rate, burst=burst), ChatGate(redis)
    chat = ChatService(database, presence, sequence, limiter=limiter, gate=gate)
    chat._writes._core = way == "local+core"  # else the ORM's unit of work, as before
    return chat, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    results: dict[str, list[float]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for way in WAYS:
                value = asyncio.run(measure(way, args.messages, args.concurrency, Path(tmp)))
                results[way].append(value)
    for way, values in results.items():
        print(
            f"{way:>14}: {statistics.median(values):8.0f} µs CPU per message "
            f"(rounds: {', '.join(f'{v:.0f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
