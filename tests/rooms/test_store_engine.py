"""The SQLite database's transactions take turns on the event loop, not in SQLite's busy
handler, and never wait for a turn for ever (``rooms/store/engine.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from rooms.store import Database, create_database


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = create_database(f"sqlite:///{tmp_path / 'turns.db'}")
    try:
        yield database
    finally:
        await database.dispose()


def _begins(database: Database) -> list[Any]:
    begun: list[Any] = []
    event.listen(database.engine.sync_engine, "begin", begun.append)
    return begun


async def test_a_second_transaction_waits_on_the_loop_until_the_first_ends(
    database: Database,
) -> None:
    assert database.turns is not None
    database.turn_wait = 30.0  # the second must be let in by the first's end, not the bound
    begun = _begins(database)
    held, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with database.transaction() as tx:
            await tx.execute(text("SELECT 1"))
            held.set()
            await release.wait()

    async def second() -> int:
        async with database.transaction() as tx:
            return int(await tx.scalar(text("SELECT 2")) or 0)

    holding = asyncio.create_task(first())
    await held.wait()
    waiting = asyncio.create_task(second())
    for _ in range(5):  # loop passes: the second runs until it waits
        await asyncio.sleep(0)
    # It waits on the lock: it has not begun (which would park it in SQLite's busy handler).
    assert not waiting.done()
    assert len(begun) == 1
    release.set()
    await holding
    async with asyncio.timeout(5):
        assert await waiting == 2
    assert len(begun) == 2
    assert database.turn_timeouts == 0
    assert not database.turns.locked()


async def test_a_transaction_awaiting_another_tasks_transaction_completes(
    database: Database,
) -> None:
    """The deadlock the turns must not make: the outer transaction holds the turn and awaits
    work that needs a transaction of its own in another task (the inner one would wait for
    the turn for ever). The inner goes ahead once its wait for the turn runs out."""
    database.turn_wait = 0.05

    async def inner() -> int:
        async with database.transaction() as tx:
            await tx.execute(text("CREATE TABLE t (n INTEGER)"))
            await tx.execute(text("INSERT INTO t VALUES (7)"))
            return 7

    async with asyncio.timeout(10):
        async with database.transaction() as tx:
            assert await asyncio.create_task(inner()) == 7
            assert await tx.scalar(text("SELECT n FROM t")) == 7
    assert database.turn_timeouts == 1
    assert database.turns is not None
    assert not database.turns.locked()
    # Turns work as before afterwards.
    async with database.transaction() as tx:
        assert await tx.scalar(text("SELECT count(*) FROM t")) == 1
    assert database.turn_timeouts == 1


async def test_a_transaction_nested_in_the_same_task_does_not_queue(database: Database) -> None:
    database.turn_wait = 30.0
    async with asyncio.timeout(5):
        async with database.transaction(), database.transaction() as inner:
            assert await inner.scalar(text("SELECT 3")) == 3
    assert database.turn_timeouts == 0
    assert database.turns is not None
    assert not database.turns.locked()


async def test_a_transaction_cancelled_while_it_waits_leaves_the_turns_free(
    database: Database,
) -> None:
    database.turn_wait = 30.0
    held, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with database.transaction():
            held.set()
            await release.wait()

    async def second() -> None:
        async with database.transaction():
            pass

    holding = asyncio.create_task(first())
    await held.wait()
    waiting = asyncio.create_task(second())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await holding
    assert database.turns is not None
    assert not database.turns.locked()
    async with asyncio.timeout(5), database.transaction() as tx:
        assert await tx.scalar(text("SELECT 4")) == 4


async def test_postgresql_has_no_turns() -> None:
    database = create_database("postgresql://nobody@127.0.0.1:1/none")
    try:
        assert database.turns is None
    finally:
        await database.dispose()
