"""Plain inserts into a SQLite file in one trip to a thread of their own.

Through SQLAlchemy and aiosqlite, one transaction of one INSERT is about nine round trips
between the event loop and the driver's thread (a cursor, BEGIN IMMEDIATE, its close; a cursor,
the INSERT, its close; COMMIT; the pool's reset on return), each a thread switch, and each
one that finds the loop's thread busy (a room's fan-out) waits for the GIL. A chat group
commit is such a transaction, on the path of every chat message. :class:`SqliteWriter` keeps
its own connection to the file on its own thread and runs ``BEGIN IMMEDIATE``, the
executemany of each table and ``COMMIT`` there in one call: one trip.

Only for what needs no ORM: rows given as column values, bound through the columns' types as
SQLAlchemy would bind them. Errors are raised as SQLAlchemy's (``DBAPIError.instance``), as
the engine raises them, so callers tell "unavailable" from "bad row" the same way.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from rooms.store.compiled_inserts import CompiledInserts

__all__ = ["SQLITE_PRAGMAS", "SqliteWriter"]

#: What every connection to the file runs first, the engine's (``rooms/store/engine.py``) and
#: the writer's: foreign keys enforced, WAL (readers beside the writer), a 30 s busy timeout.
SQLITE_PRAGMAS = ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000")

_Batch = tuple[str, list[tuple[Any, ...]]]


class SqliteWriter:
    """Owns one connection to the file at ``path`` and the one thread that uses it."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._dialect = sqlite_dialect.dialect()
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used on the executor's thread only
        self._inserts = CompiledInserts(self._dialect)

    @classmethod
    def for_url(cls, url: str) -> SqliteWriter | None:
        """A writer for a SQLite file URL; None for an in-memory database (another
        connection would see another database) or a URL with options."""
        parsed = make_url(url)
        database = parsed.database
        if not database or database == ":memory:" or parsed.query:
            return None
        return cls(database)

    async def insert(self, rows: dict[Table, list[dict[str, Any]]]) -> None:
        """Insert ``rows`` (column name → value, per table) in one transaction; returns once
        committed. Rows missing a column get the column's server default, as with Core."""
        batches: list[_Batch] = [(b.sql, b.params) for b in self._inserts.batches(rows)]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._write, batches)
        except sqlite3.Error as exc:
            sql = "; ".join(sql for sql, _ in batches)
            raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc

    async def close(self) -> None:
        """Close the connection and stop the thread (idempotent)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
        finally:
            executor.shutdown(wait=False)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        for pragma in SQLITE_PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
        self._conn = conn
        return conn

    def _write(self, batches: list[_Batch]) -> None:
        conn = self._conn or self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in batches:
                conn.executemany(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
