"""A SQLite file's writer commits on the event loop's thread when the file is free, goes to its
own thread when another connection holds the write lock, and checkpoints the WAL in the
background (``rooms/store/sqlite_writer.py``)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, OperationalError

from rooms.store import Database, create_database
from rooms.store.sqlite_writer import SqliteWriter
from tests.rooms.writer_notes import note, notes_table, stored

notes = notes_table("notes")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A SQLite file with the notes table, in WAL mode, no connection left open."""
    path = tmp_path / "inline.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # as every connection of the app sets
    notes.metadata.create_all(engine)
    engine.dispose()
    return path


@pytest.fixture
async def database(path: Path) -> AsyncIterator[Database]:
    database = create_database(f"sqlite:///{path}")
    try:
        yield database
    finally:
        await database.dispose()


def writer_of(database: Database) -> SqliteWriter:
    assert isinstance(database.writer, SqliteWriter)
    return database.writer


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another connection holds the file's write lock until the block ends."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


async def fallen_back(writer: SqliteWriter) -> None:
    """Let the insert just started try the loop once: it found the file locked."""
    for _ in range(100):
        await asyncio.sleep(0)
        if writer.lock_fallbacks:
            break
    assert writer.lock_fallbacks == 1


def wal_exists(path: Path) -> bool:
    return Path(f"{path}-wal").exists()


def wal_frames(path: Path) -> int:
    """The WAL file's size in frames (its high-water mark: SQLite rewinds it, never shrinks
    it while connections are open)."""
    wal = Path(f"{path}-wal")
    size = wal.stat().st_size if wal.exists() else 0
    return max(0, size - 32) // (4096 + 24)


def wal_rewinds(path: Path) -> int:
    """The WAL header's checkpoint sequence number: one more at each rewind to its start."""
    return int.from_bytes(Path(f"{path}-wal").read_bytes()[12:16], "big")


async def test_an_insert_on_a_free_file_commits_without_leaving_the_loop(
    database: Database,
) -> None:
    writer = writer_of(database)
    insert = writer.insert({notes: [note(1), note(2)]})
    with pytest.raises(StopIteration):  # done at the first step: it never awaited a thread
        insert.send(None)
    assert (writer.inline_commits, writer.thread_commits) == (1, 0)
    assert not writer.checkpointing
    assert [r[1] for r in await stored(database, notes)] == [1, 2]


async def test_a_locked_file_sends_the_rows_to_the_thread_once(
    database: Database, path: Path
) -> None:
    writer = writer_of(database)
    loop = asyncio.get_running_loop()
    with write_lock(path):
        started = loop.time()
        writing = asyncio.create_task(writer.insert({notes: [note(5), note(6)]}))
        await fallen_back(writer)
        assert loop.time() - started < 5  # the attempt on the loop did not wait for the lock
        # The rows wait for the lock on the writer's thread; the loop goes on meanwhile
        # (here: a read on another thread, which finds nothing written yet).
        assert await asyncio.to_thread(_rows, path) == []
        assert not writing.done()
    async with asyncio.timeout(10):
        await writing
    assert (writer.inline_commits, writer.thread_commits) == (0, 1)
    assert [r[1] for r in await stored(database, notes)] == [5, 6]
    await writer.insert({notes: [note(7)]})  # the file is free again: inline
    assert (writer.inline_commits, writer.thread_commits) == (1, 1)
    assert [r[1] for r in await stored(database, notes)] == [5, 6, 7]


@pytest.mark.parametrize("locked", [False, True], ids=["inline", "thread"])
async def test_a_duplicate_key_fails_alone_as_an_integrity_error(
    database: Database, path: Path, locked: bool
) -> None:
    writer = writer_of(database)
    await writer.insert({notes: [note(1)]})
    failing = asyncio.create_task(writer.insert({notes: [note(2), note(1)]}))
    if locked:
        with write_lock(path):
            await fallen_back(writer)
    with pytest.raises(IntegrityError):
        await failing
    assert writer.lock_fallbacks == int(locked)
    await writer.insert({notes: [note(2)]})  # nothing of the failed insert was kept
    assert [r[1] for r in await stored(database, notes)] == [1, 2]


async def test_an_unusable_file_is_an_operational_error(tmp_path: Path) -> None:
    writer = SqliteWriter(str(tmp_path / "no" / "such" / "dir.db"))
    with pytest.raises(OperationalError):
        await writer.insert({notes: [note(1)]})
    await writer.close()


async def test_inline_commits_are_checkpointed_in_the_background(path: Path) -> None:
    writer = SqliteWriter(str(path), checkpoint_pages=40)  # every 8 commits of one row
    rewound_by_thread = 0
    try:
        rewinds = None
        for seq in range(1, 301):
            await writer.insert({notes: [note(seq)]})
            if rewinds is not None:
                # The checkpoint before copied everything and rewound the WAL on the thread
                # (syncing its header there): this inline commit did not rewind it.
                assert wal_rewinds(path) == rewinds
                rewound_by_thread += 1
                rewinds = None
            if writer.checkpointing:
                await writer.checkpointed()
                assert writer.last_checkpoint is not None
                busy, log, copied = writer.last_checkpoint
                if not busy and log == copied:
                    rewinds = wal_rewinds(path)
        assert writer.inline_commits == 300
        assert writer.checkpoints >= 20
        assert rewound_by_thread >= 20
        # ~3 frames a commit: 300 commits unchecked would leave ~900.
        assert wal_frames(path) <= 2 * 40
    finally:
        await writer.close()
    assert [r[0] for r in _rows(path)] == list(range(1, 301))


async def test_inline_commits_never_checkpoint_on_the_loop(path: Path) -> None:
    writer = SqliteWriter(str(path), checkpoint_pages=1_000_000)
    try:
        for seq in range(1, 401):
            await writer.insert({notes: [note(seq)]})
        assert (writer.checkpoints, writer.checkpointing) == (0, False)
        # Past SQLite's automatic checkpoint at 1000 pages, and none ran: all still in the WAL.
        assert wal_rewinds(path) == 0
        _, log, _ = _checkpoint(path)
        assert log > 1000
    finally:
        await writer.close()


async def test_close_waits_for_the_checkpoint_and_closes_everything(path: Path) -> None:
    writer = SqliteWriter(str(path), checkpoint_pages=10)
    seq = 0
    while not writer.checkpointing and seq < 100:
        seq += 1
        await writer.insert({notes: [note(seq)]})
    assert writer.checkpointing
    await writer.close()
    assert not writer.checkpointing
    assert writer.checkpoints == 1
    # The last connection to close copies the WAL back and deletes it: none is left open.
    assert not wal_exists(path)
    await writer.close()  # idempotent
    await writer.insert({notes: [note(seq + 1)]})  # and usable again, as before
    await writer.close()
    assert not wal_exists(path)
    assert len(_rows(path)) == seq + 1


def _rows(path: Path) -> list[tuple[int]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT seq FROM notes ORDER BY seq").fetchall()
    finally:
        conn.close()


def _checkpoint(path: Path) -> tuple[int, int, int]:
    """A PASSIVE checkpoint from another connection: (busy, pages in the WAL, pages copied)."""
    conn = sqlite3.connect(path)
    try:
        busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy, log, copied
    finally:
        conn.close()
