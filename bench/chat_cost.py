"""What one chat message costs this process before its fan-out, on the embedded default (SQLite,
no Redis server): :meth:`ChatService.store` (the gate, the rate limit, the sequence number and
the group-committed insert) and the room log's append, same run, two ways:

- ``fakeredis+orm``: the gate, limiter, sequence and log on fakeredis, the row added through
  the ORM's unit of work (the embedded default before);
- ``local+orm``: all four in process (``rooms/local_room_state.py``), the row through the ORM;
- ``local+core``: all four in process, the row a Core INSERT (the embedded default now).

With ``--redis-url`` and ``--postgres-url`` (a database this overwrites: the bench migrates it)
it measures the deployment's chat path on real Redis and PostgreSQL instead, two ways:

- ``redis+pool``: the gate, the limiter and the sequence asked in turn, the group commit a
  pooled SQLAlchemy transaction (before ``rooms/chat_admission.py`` and ``pg_writer.py``);
- ``redis+writer``: the three in one script, the group commit on PostgreSQL's own writer.

    .venv/bin/python -m bench.chat_cost [--messages 500] [--rounds 3] [--concurrency 1] \
        [--redis-url redis://... --postgres-url postgresql://.../scratch]

Messages are sent ``--concurrency`` at a time (1: each commits alone; more: they share a group
commit, as in a busy room). The figure is the main thread's CPU time per message (what a chat
message takes from the event loop; SQLite's own work runs on aiosqlite's thread and is not in
it), and the wall time per message (with ``--concurrency 1``: one message's store latency).
Rounds alternate between the ways.
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
from rooms.chat_admission import RedisChatAdmission
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
SERVICE_WAYS = ("redis+pool", "redis+writer")


async def measure(
    way: str,
    messages: int,
    concurrency: int,
    data_dir: Path,
    *,
    redis_url: str | None = None,
    database_url: str | None = None,
) -> tuple[float, float]:
    """CPU and wall µs per chat message stored and logged ``way`` (one of :data:`WAYS`, or of
    :data:`SERVICE_WAYS` with both URLs)."""
    database = create_database(
        database_url or f"sqlite:///{data_dir / f'{way}-{time.monotonic_ns()}.db'}"
    )
    redis = connect_redis(redis_url)
    try:
        await upgrade_database(database)
        sid = f"bench-{time.monotonic_ns()}"
        now = utcnow()
        async with database.transaction() as tx:
            tx.add(
                SessionRow(
                    id=sid,
                    tenant_id="t",
                    room_name=sid,
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
        cpu, wall = time.thread_time(), time.perf_counter()
        for start in range(0, messages, concurrency):
            await asyncio.gather(*(one(s, start + k) for k, s in enumerate(senders)))
        per = 1e6 / messages
        return (time.thread_time() - cpu) * per, (time.perf_counter() - wall) * per
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
    if way in SERVICE_WAYS:
        sequence, log = SequenceAllocator(redis), RoomLog(redis)
        limiter, gate = ChatLimiter(redis, rate=rate, burst=burst), ChatGate(redis)
        if way == "redis+pool":
            database.writer = None  # the pooled transaction, as before
            return ChatService(database, presence, sequence, limiter=limiter, gate=gate), log
        admission = RedisChatAdmission(redis, rate=rate, burst=burst)
        chat = ChatService(
            database, presence, sequence, limiter=limiter, gate=gate, admission=admission
        )
        return chat, log
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
    parser.add_argument("--redis-url", help="real Redis (with --postgres-url)")
    parser.add_argument("--postgres-url", help="a PostgreSQL database this migrates and fills")
    args = parser.parse_args()
    if bool(args.redis_url) != bool(args.postgres_url):
        parser.error("--redis-url and --postgres-url go together")
    ways = SERVICE_WAYS if args.redis_url else WAYS
    results: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for way in ways:
                value = asyncio.run(
                    measure(
                        way,
                        args.messages,
                        args.concurrency,
                        Path(tmp),
                        redis_url=args.redis_url,
                        database_url=args.postgres_url,
                    )
                )
                results[way].append(value)
    for way, values in results.items():
        cpu, wall = [v[0] for v in values], [v[1] for v in values]
        print(
            f"{way:>14}: {statistics.median(cpu):8.0f} µs CPU, {statistics.median(wall):8.0f} µs "
            f"wall per message (rounds: {', '.join(f'{c:.0f}/{w:.0f}' for c, w in values)})"
        )


if __name__ == "__main__":
    main()
