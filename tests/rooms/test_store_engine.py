"""The SQLite database's transactions take turns on the event loop, not in SQLite's busy
handler (``rooms/store/engine.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from rooms.store import create_database


async def test_a_second_sqlite_transaction_waits_on_the_loop_until_the_first_ends(
    tmp_path: Path,
) -> None:
    database = create_database(f"sqlite:///{tmp_path / 'turns.db'}")
    assert database.turns is not None
    begun: list[Any] = []
    event.listen(database.engine.sync_engine, "begin", begun.append)
    held, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with database.transaction() as tx:
            await tx.execute(text("SELECT 1"))
            held.set()
            await release.wait()

    async def second() -> int:
        async with database.transaction() as tx:
            return int(await tx.scalar(text("SELECT 2")) or 0)

    try:
        holding = asyncio.create_task(first())
        await held.wait()
        waiting = asyncio.create_task(second())
        await asyncio.sleep(0)  # one loop pass: the new task runs until it waits
        assert database.turns._waiters  # on the lock, not in SQLite's busy handler
        assert len(begun) == 1
        release.set()
        await holding
        assert await waiting == 2
        assert len(begun) == 2
    finally:
        await database.dispose()


async def test_a_transaction_opened_by_a_finished_one_is_not_held_up(tmp_path: Path) -> None:
    database = create_database(f"sqlite:///{tmp_path / 'turns.db'}")
    try:
        for _ in range(3):
            async with database.transaction() as tx:
                await tx.execute(text("SELECT 1"))
        assert database.turns is not None
        assert not database.turns.locked()
    finally:
        await database.dispose()
