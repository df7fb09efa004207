"""Plain inserts into a SQLite file, committed on the event loop's own thread.

Through SQLAlchemy and aiosqlite, one transaction of one INSERT is about nine round trips
between the event loop and the driver's thread, each a thread switch. A chat group commit is
such a transaction, on the path of every chat message, so :class:`SqliteWriter` runs
``BEGIN IMMEDIATE``, the executemany of each table and ``COMMIT`` itself, in one call, with no
trip at all when it can: on the loop's thread (*inline*). The SQL of a chat commit takes
~50 µs of the loop's time (~0.2 ms in the loaded 500-client bench); a trip to a thread and back
costs two cross-thread wake-ups (p50 1 ms, p99 3.6 ms on a 2-core VM, where an idle thread's
vCPU wakes slowly) and GIL hand-offs.

Inline is cheap because the journal is WAL with ``synchronous=NORMAL`` (:data:`SQLITE_PRAGMAS`):
a commit writes WAL frames to the page cache and does not sync (but for the WAL's rewind, see
:class:`SqliteWriter`). What can take milliseconds is kept off the loop, on the writer's own
thread:

- *Checkpoints* (copying the WAL back into the file, with two fsyncs). The inline connection
  runs none (``wal_autocheckpoint=0``); after about :data:`CHECKPOINT_PAGES` pages of inline
  commits the thread runs a PASSIVE one in the background, which waits for no reader or writer
  and no chat message waits for. See :class:`SqliteWriter` for the count and the WAL's bound.
- *Waiting for the write lock*. The inline connection never waits (busy timeout 0): when
  another connection holds the lock (another process, or this process's engine going ahead
  without its turn, see ``engine.py``), the attempt has rolled back and the same rows go to the
  thread, which waits as every connection does (30 s busy timeout), off the loop.

Durability is unchanged: both connections run the same pragmas as the engine's (but for the
busy timeout and the automatic checkpoints of the inline one). Errors are raised as SQLAlchemy's
(``DBAPIError.instance``), as the engine raises them, so callers tell "unavailable" from "bad
row" the same way; a failing row (an IntegrityError) rolls back the whole insert, on either
path. Only for what needs no ORM: rows given as column values, bound through the columns' types
as SQLAlchemy would bind them.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from rooms.store.compiled_inserts import CompiledInserts
from rooms.store.durability import DURABLE, Durability

__all__ = ["CHECKPOINT_PAGES", "INLINE_PRAGMAS", "SQLITE_PRAGMAS", "SqliteWriter"]

log = logging.getLogger(__name__)

_WAIT = "busy_timeout=30000"
#: What every connection to the file runs first, the engine's (``rooms/store/engine.py``) and
#: the writer's thread's: foreign keys enforced, WAL (readers beside the writer), a 30 s busy
#: timeout.
SQLITE_PRAGMAS = ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", _WAIT)

#: The inline connection's: the same, but it never waits for a lock (the loop would wait with
#: it) and never checkpoints (the writer's thread does, see :class:`SqliteWriter`).
INLINE_PRAGMAS = (
    "foreign_keys=ON",
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "busy_timeout=0",
    "wal_autocheckpoint=0",
)

#: Estimated pages of inline commits between two background checkpoints (SQLite's own
#: automatic checkpoint comes at 1000).
CHECKPOINT_PAGES = 400

_Batch = tuple[str, list[tuple[Any, ...]]]
#: ``PRAGMA wal_checkpoint``'s answer: (1 if it could not run, pages in the WAL, pages copied).
Checkpoint = tuple[int, int, int]

_LOCK_TAKEN = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteWriter:
    """Inserts into the file at ``path``: inline on the loop's thread, or on a thread of its own
    when the file's write lock is taken; that thread also checkpoints the WAL.

    *Two connections*, each used by one thread only: the inline one belongs to the thread of
    the first :meth:`insert` (the event loop's; an insert from any other thread takes the thread
    path), the other to the writer's thread. One connection shared by both threads
    (``check_same_thread=False``) would need the busy timeout switched per call, and a
    checkpoint running on it would hold the connection's mutex, which the next inline commit
    would then wait for on the loop: the very wait this class avoids. Two connections keep
    their pragmas fixed, keep sqlite3's same-thread check on, and a checkpoint on one never
    blocks a commit on the other (WAL lets a checkpoint run beside a writer).

    *When to checkpoint*: Python's sqlite3 has no WAL hook telling how many pages a commit
    added, so each inline commit counts an estimate, 4 pages plus one per row: about what
    ``chat_messages`` shows for small groups (4.4 pages for one row, 16 for ten, as uuid4 keys
    land on random index pages) and more than it for large ones (164 for 500). Once the count
    reaches ``checkpoint_pages`` (default :data:`CHECKPOINT_PAGES`, under SQLite's own 1000:
    80 chat commits of one row, every 4 s at 20 messages/s) the thread runs
    ``wal_checkpoint(PASSIVE)``, at most one at a time (the next commit after it starts the
    next). The WAL is thereby bounded as with SQLite's automatic checkpoints: copied back every
    few hundred pages, and rewound to its start once fully copied and no reader needs it (a
    long-lived reader holds it back in either case).
    The rewind is done by the next write, which first syncs the WAL's new header: an fsync (up
    to a few ms) that would fall on the loop, so after a complete checkpoint the thread at once
    makes that write itself (it rewrites ``PRAGMA user_version`` with its own value, holding
    the lock a moment; an inline commit meeting it takes the thread path, and one that comes
    between the checkpoint and that write, rarely, makes the rewind and its sync itself).

    :meth:`close` waits for a checkpoint under way; a later :meth:`insert` opens everything
    again. Counters for tests and metrics: :attr:`inline_commits`, :attr:`thread_commits`,
    :attr:`lock_fallbacks`, :attr:`checkpoints` and :attr:`last_checkpoint`.
    """

    commits_inline = True
    commit_delay = 0.0  # committed on the loop's thread at once: no other process to yield to

    def __init__(self, path: str, *, checkpoint_pages: int = CHECKPOINT_PAGES) -> None:
        self._path = path
        self._dialect = sqlite_dialect.dialect()
        self._inserts = CompiledInserts(self._dialect)
        self._checkpoint_pages = checkpoint_pages
        self._inline: sqlite3.Connection | None = None  # the loop thread's
        self._inline_thread: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used on the executor's thread only
        self._pages = 0  # estimated pages of inline commits since the last checkpoint began
        self._checkpointing: asyncio.Future[Checkpoint] | None = None
        #: Inserts committed on the loop's thread.
        self.inline_commits = 0
        #: Inserts committed on the writer's thread.
        self.thread_commits = 0
        #: Inline attempts that found the write lock taken (and went to the thread).
        self.lock_fallbacks = 0
        #: Background checkpoints finished, and the last one's answer.
        self.checkpoints = 0
        self.last_checkpoint: Checkpoint | None = None

    @classmethod
    def for_url(cls, url: str) -> SqliteWriter | None:
        """A writer for a SQLite file URL; None for an in-memory database (another
        connection would see another database) or a URL with options."""
        parsed = make_url(url)
        database = parsed.database
        if not database or database == ":memory:" or parsed.query:
            return None
        return cls(database)

    async def insert(self, rows: dict[Table, list[dict[str, Any]]]) -> Durability:
        """Insert ``rows`` (column name → value, per table) in one transaction; returns once
        committed, as durable as the file's pragmas make any commit (:data:`DURABLE`). Rows
        missing a column get the column's server default, as with Core."""
        batches: list[_Batch] = [(b.sql, b.params) for b in self._inserts.batches(rows)]
        try:
            if self._insert_inline(batches):
                return DURABLE
            await asyncio.get_running_loop().run_in_executor(self._thread(), self._write, batches)
            self.thread_commits += 1
        except sqlite3.Error as exc:
            raise _error(batches, exc) from exc
        return DURABLE

    def insert_now(self, rows: dict[Table, list[dict[str, Any]]]) -> bool:
        """Insert ``rows`` as :meth:`insert` does, inline or not at all: True once committed;
        False, nothing written, when the file's write lock is taken (then :meth:`insert`,
        which waits for it on the thread). Lets a caller with nothing else queued commit
        without a task switch (``group_commit.py``)."""
        batches: list[_Batch] = [(b.sql, b.params) for b in self._inserts.batches(rows)]
        try:
            return self._insert_inline(batches)
        except sqlite3.Error as exc:
            raise _error(batches, exc) from exc

    @property
    def checkpointing(self) -> bool:
        """A background checkpoint is under way."""
        return self._checkpointing is not None

    async def checkpointed(self) -> None:
        """Return once no background checkpoint is under way (never raises its error)."""
        running = self._checkpointing
        if running is not None:
            await asyncio.wait([running])

    async def close(self) -> None:
        """Close both connections and stop the thread, after the checkpoint and writes under
        way on it (idempotent)."""
        self._close_inline()
        self._pages = 0
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            # The executor runs one job at a time, in order: this one comes last.
            await asyncio.get_running_loop().run_in_executor(executor, self._close_thread)
        finally:
            executor.shutdown(wait=False)

    def _insert_inline(self, batches: list[_Batch]) -> bool:
        """Commit ``batches`` on this thread: True once committed, False (nothing written)
        when the write lock is taken or the inline connection belongs to another thread."""
        conn = self._inline
        if conn is not None and self._inline_thread != threading.get_ident():
            return False
        try:
            if conn is None:
                conn = self._open_inline()
            _run(conn, batches)
        except sqlite3.Error as exc:
            if conn is not None and conn.in_transaction:
                self._close_inline()  # its rollback failed: closing the connection discards it
            if not _lock_taken(exc):
                raise
            self.lock_fallbacks += 1
            return False
        self.inline_commits += 1
        self._pages += 4 + sum(len(params) for _, params in batches)
        if self._pages >= self._checkpoint_pages and self._checkpointing is None:
            self._start_checkpoint()
        return True

    def _open_inline(self) -> sqlite3.Connection:
        """Open the inline connection, owned by the calling thread from now on."""
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None)
        try:
            for pragma in INLINE_PRAGMAS:  # switching a new file to WAL may find it locked
                conn.execute(f"PRAGMA {pragma}")
        except BaseException:
            conn.close()
            raise
        self._inline, self._inline_thread = conn, threading.get_ident()
        return conn

    def _close_inline(self) -> None:
        conn, self._inline = self._inline, None
        if conn is not None and self._inline_thread == threading.get_ident():
            conn.close()
        # From another thread sqlite3 refuses to close it: dropped, it closes when collected.

    def _thread(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        return self._executor

    def _start_checkpoint(self) -> None:
        self._pages = 0
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(self._thread(), self._checkpoint)
        self._checkpointing = running
        running.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, running: asyncio.Future[Checkpoint]) -> None:
        if self._checkpointing is running:
            self._checkpointing = None
        if running.cancelled():
            return
        error = running.exception()
        if error is not None:
            # The WAL only grows meanwhile; the next inline commits start another.
            log.warning("checkpoint of %s failed: %r", self._path, error)
            return
        self.checkpoints += 1
        self.last_checkpoint = running.result()

    # On the writer's thread:

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            for pragma in SQLITE_PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    def _write(self, batches: list[_Batch]) -> None:
        _run(self._connection(), batches)

    def _checkpoint(self) -> Checkpoint:
        conn = self._connection()
        busy, wal, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if not busy and wal and wal == copied:
            self._rewind(conn)
        return busy, wal, copied

    def _rewind(self, conn: sqlite3.Connection) -> None:
        """The write that rewinds a fully copied WAL (and syncs its header), made here rather
        than by the next inline commit; skipped when the lock is taken (that writer does it)."""
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            conn.execute(f"PRAGMA user_version = {int(version)}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if not _lock_taken(exc):
                raise
        finally:
            conn.execute(f"PRAGMA {_WAIT}")

    def _close_thread(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _run(conn: sqlite3.Connection, batches: list[_Batch]) -> None:
    """``batches`` in one transaction on ``conn``; rolled back if anything fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, params in batches:
            conn.executemany(sql, params)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _error(batches: list[_Batch], exc: sqlite3.Error) -> DBAPIError:
    """``exc`` as SQLAlchemy raises it (callers tell "unavailable" from "bad row")."""
    sql = "; ".join(sql for sql, _ in batches)
    error = DBAPIError.instance(sql, None, exc, sqlite3.Error)
    assert isinstance(error, DBAPIError)
    return error


def _lock_taken(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (any extended code): another connection holds the lock."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _LOCK_TAKEN
