"""A SQLite file's writer thread stores rows as SQLAlchemy's Core would, in one transaction,
on the database's turns (``rooms/store/sqlite_writer.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase

from rooms.store import Database, create_database
from rooms.store.group_commit import GroupCommit
from rooms.store.sqlite_writer import SqliteWriter
from tests.rooms.writer_notes import note, notes_table, stored

notes = notes_table("notes")
metadata = notes.metadata


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = create_database(f"sqlite:///{tmp_path / 'writer.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()


def test_only_a_sqlite_file_gets_a_writer() -> None:
    assert SqliteWriter.for_url("sqlite+aiosqlite:///:memory:") is None
    assert SqliteWriter.for_url("sqlite+aiosqlite://") is None
    assert SqliteWriter.for_url("sqlite+aiosqlite:///x.db?mode=ro") is None
    assert SqliteWriter.for_url("sqlite+aiosqlite:///x.db") is not None
    assert not isinstance(
        create_database("postgresql://nobody@127.0.0.1:1/none").writer, SqliteWriter
    )


async def test_rows_read_back_as_the_engines_core_insert_writes_them(database: Database) -> None:
    writer = database.writer
    assert writer is not None
    await writer.insert({notes: [note(1), note(2), {**note(3), "tag": "x"}]})
    async with database.transaction() as tx:
        await tx.execute(insert(notes), [note(11), note(12), note(13)])
    rows = await stored(database, notes)
    mine, theirs = rows[:3], rows[3:]
    for a, b in zip(mine, theirs, strict=True):
        assert a[1] + 10 == b[1]
        assert a[2].replace(f" {a[1]}", "") == b[2].replace(f" {b[1]}", "")
        assert a[3].replace(minute=0) == b[3].replace(minute=0)
        assert a[3].tzinfo is not None
    # The server default where unset, each row's own value where set.
    assert [r[4] for r in rows] == ["plain", "plain", "x", "plain", "plain", "plain"]


async def test_a_failing_row_rolls_the_whole_insert_back(database: Database) -> None:
    writer = database.writer
    assert writer is not None
    await writer.insert({notes: [note(1)]})
    with pytest.raises(IntegrityError):
        await writer.insert({notes: [note(2), {**note(1), "id": "other"}]})
    assert [r[1] for r in await stored(database, notes)] == [1]
    await writer.insert({notes: [note(2)]})  # the connection is usable afterwards
    assert [r[1] for r in await stored(database, notes)] == [1, 2]


async def test_the_insert_waits_for_the_turn_on_the_loop(database: Database) -> None:
    """While another task's transaction holds the turn, the insert waits for it on the loop
    (not in SQLite's busy handler on its thread), and goes once the turn is free."""
    writer = database.writer
    assert writer is not None
    database.turn_wait = 30.0
    held, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with database.transaction() as tx:
            await tx.execute(select(notes.c.id))  # takes SQLite's write lock
            held.set()
            await release.wait()

    async def write() -> None:
        async with database.turn():
            await writer.insert({notes: [note(5)]})

    holding = asyncio.create_task(holder())
    await held.wait()
    writing = asyncio.create_task(write())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not writing.done()
    release.set()
    await holding
    async with asyncio.timeout(5):
        await writing
    assert [r[1] for r in await stored(database, notes)] == [5]
    assert database.turn_timeouts == 0


async def test_a_group_commit_on_a_file_goes_through_the_writer(database: Database) -> None:
    class Base(DeclarativeBase):
        pass

    class Note(Base):  # a mapped class over the test's table, for GroupCommit
        __table__ = notes

    begun: list[Any] = []
    event.listen(database.engine.sync_engine, "begin", begun.append)
    commits = GroupCommit(database, core=True)
    await asyncio.gather(*(commits.add(Note(**note(seq))) for seq in range(1, 21)))
    assert not begun  # no transaction through the engine's pool
    assert [r[1] for r in await stored(database, notes)] == list(range(1, 21))
