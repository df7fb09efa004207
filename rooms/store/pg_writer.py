"""Plain inserts into PostgreSQL on a connection of their own, in one round trip.

Through SQLAlchemy, one transaction of one INSERT on PostgreSQL is a pool checkout with its
pre-ping (a ``SELECT 1``), ``BEGIN``, the INSERT, ``COMMIT`` and the pool's reset: about five
round trips, each a wake-up of the event loop, plus the session's and the engine's Python
around them (about 1.9 ms per chat group commit in all). A chat group commit is such a
transaction, on the path of every chat message. :class:`PgWriter` keeps one asyncpg connection
of its own and sends each group as one ``executemany`` of a prepared INSERT: its binds and
executes go out together with one Sync, which PostgreSQL runs as one implicit transaction
(all rows or none), so a group is one round trip. Rows of several tables go in one explicit
transaction instead.

Only for what needs no ORM: rows given as column values, bound through the columns' types as
SQLAlchemy would bind them. Errors are raised as SQLAlchemy's (``DBAPIError.instance``), as
the engine raises them, so callers tell "unavailable" from "bad row" the same way.

A connection lost during a write leaves the commit in doubt (the rows may be committed and only
the reply lost). The writer then reconnects and looks the rows up by primary key: all there,
the write succeeded; none there, it writes them again once; so a row is committed exactly once
and its caller told so, or told the error when the database cannot be reached. A write that
gets no answer within ``write_timeout`` (a database or a network that stalls without closing
the connection) is handled the same way: its connection is dropped and the rows settled on a
new one, within a second ``write_timeout``; a chat message never waits on a silent database
for longer than that.

*Committed, then durable.* The writer's connection commits without waiting for the WAL flush
(``synchronous_commit = off`` on that connection only): an insert returns once its rows are
committed, visible to every reader, and a chat message goes to the room at once, with no fsync
on its way (a WAL flush stalled this disk's commits for 50-100 ms every ten seconds or so, and
each stall held up the messages behind it; ``bench/results/20261207-s14-durable/``). The
:class:`~rooms.store.durability.Durability` it returns says when the rows are also durable:
after a flush barrier on a second connection (``rooms/store/pg_flush.py``), which the sender's
acknowledgement waits for, so an acknowledged row is as durable as with a synchronous commit.

*After the room's readers.* A chat group reaches this writer ``commit_delay`` (10 ms) after its
first message was fanned out (``rooms/store/group_commit.py``), and its barrier follows the
commit at once (``flush_delay``, 0): the group's commit already gathered what came in the
meantime, so a barrier of its own covers it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from rooms.store.compiled_inserts import CompiledInserts
from rooms.store.durability import Durability
from rooms.store.pg_flush import FlushBarrier, terminate

__all__ = ["PgWriter"]

log = logging.getLogger(__name__)

#: A prepared statement's SQL, its rows' parameters, and how to find those rows again.
_Batch = tuple[str, list[tuple[Any, ...]], "_Lookup"]
#: ``SELECT count(*) ... WHERE (pk...) IN (unnest($1), ...)`` and each row's key.
_Lookup = tuple[str, list[list[Any]]]
#: Connect arguments SQLAlchemy's adapter consumes itself (asyncpg.connect would refuse them).
_ADAPTER_ONLY = (
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
    "async_creator_fn",
)


class PgWriter:
    """Owns one asyncpg connection to the engine's database; one write at a time."""

    commits_inline = False  # a write awaits PostgreSQL's answer

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        connect_timeout: float = 10.0,
        write_timeout: float = 10.0,
        commit_delay: float = 0.010,
        flush_delay: float = 0.0,
    ) -> None:
        self._dialect: Dialect = engine.dialect
        args, kwargs = self._dialect.create_connect_args(engine.url)
        for key in _ADAPTER_ONLY:
            kwargs.pop(key, None)
        kwargs.setdefault("timeout", connect_timeout)
        self._connect_args = (list(args), dict(kwargs))
        settings = dict(kwargs.get("server_settings") or {})
        settings["synchronous_commit"] = "off"  # durable later, by a barrier
        self._writer_args = (list(args), {**kwargs, "server_settings": settings})
        self._write_timeout = write_timeout
        #: How long a group commit gathers before it writes here (``group_commit.py``).
        self.commit_delay = commit_delay
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._inserts = CompiledInserts(self._dialect)
        self._lookups: dict[Table, tuple[str, list[str]]] = {}
        #: When the commits are durable (its connection has the server's own settings).
        self.flush = FlushBarrier(self._connect_flush, timeout=write_timeout, delay=flush_delay)

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> PgWriter | None:
        """A writer for a PostgreSQL engine on asyncpg; None for any other."""
        dialect = engine.dialect
        if dialect.name != "postgresql" or dialect.driver != "asyncpg":
            return None
        return cls(engine)

    def insert_now(self, rows: dict[Table, list[dict[str, Any]]]) -> bool:
        """Never: a write to PostgreSQL awaits its answer (use :meth:`insert`)."""
        return False

    async def insert(self, rows: dict[Table, list[dict[str, Any]]]) -> Durability:
        """Insert ``rows`` (column name → value, per table) in one transaction; returns once
        committed (visible to every reader), with what says when they are durable. Rows
        missing a column get the column's server default, as with Core."""
        batches = self._batches(rows)
        await self._insert(batches)
        return _Commit(self, self.flush.committed(), batches)

    async def _insert(self, batches: list[_Batch]) -> None:
        async with self._lock:
            try:
                conn = await self._connection()
            except Exception as exc:
                raise self._error(exc, batches, lost=True) from exc
            try:
                async with asyncio.timeout(self._write_timeout):
                    await _write(conn, batches)
                return
            except asyncio.CancelledError:
                self._drop()  # mid-protocol: the connection is of no further use
                raise
            except Exception as exc:
                if not (isinstance(exc, TimeoutError) or _lost(conn, exc)):
                    raise self._error(exc, batches, lost=False) from exc
                first = exc
            self._drop()
            try:
                # In doubt: committed with the reply lost, or never committed.
                async with asyncio.timeout(self._write_timeout):
                    conn = await self._connection()
                    present = await _present(conn, batches)
                    total = sum(len(params) for _, params, _ in batches)
                    if present == total:
                        return
                    if present == 0:
                        await _write(conn, batches)
                        return
            except asyncio.CancelledError:
                self._drop()
                raise
            except Exception as exc:
                if _lost(conn, exc) or isinstance(exc, OSError | TimeoutError):
                    self._drop()
                raise self._error(exc, batches, lost=_lost(conn, exc)) from exc
            # A transaction is all or nothing: part of a group stored means someone else
            # wrote some of these keys. Report the first failure rather than guess.
            raise self._error(first, batches, lost=True) from first

    async def warm(self) -> None:
        """Open the connection now (at start-up), so the first write does not wait for its
        handshake; a failure is only logged (the first write tries again)."""
        async with self._lock:
            try:
                await self._connection()
            except Exception as exc:
                log.warning("PostgreSQL writer not connected yet: %r", exc)
        try:
            await self.flush.warm()
        except Exception as exc:
            log.warning("PostgreSQL flush barrier not connected yet: %r", exc)

    async def close(self) -> None:
        """Close the connections (idempotent; a write in progress fails as on a lost
        connection, a barrier waited for is cancelled); a later insert opens a new one."""
        self._drop()
        await self.flush.close()

    async def _confirm(self, mark: int, batches: list[_Batch]) -> None:
        """Return once the insert numbered ``mark`` is durable; else raise as :meth:`insert`
        does, the rows possibly lost."""
        total = sum(len(params) for _, params, _ in batches)

        async def present(conn: asyncpg.Connection) -> bool:
            return await _present(conn, batches) == total

        try:
            await self.flush.confirm(mark, present)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise self._error(exc, batches, lost=True) from exc

    async def _connect_flush(self) -> asyncpg.Connection:
        args, kwargs = self._connect_args
        return await asyncpg.connect(*args, **kwargs)

    async def _connection(self) -> asyncpg.Connection:
        conn = self._conn
        if conn is None or conn.is_closed():
            args, kwargs = self._writer_args
            conn = self._conn = await asyncpg.connect(*args, **kwargs)
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        terminate(conn)

    def _batches(self, rows: dict[Table, list[dict[str, Any]]]) -> list[_Batch]:
        batches: list[_Batch] = []
        for batch in self._inserts.batches(rows):
            lookup_sql, keys = self._lookup(batch.table)
            key_values = [[r[k] for r in batch.rows] for k in keys]
            batches.append((batch.sql, batch.params, (lookup_sql, key_values)))
        return batches

    def _lookup(self, table: Table) -> tuple[str, list[str]]:
        """How many of a batch's rows are stored, by primary key (one array per column)."""
        hit = self._lookups.get(table)
        if hit is None:
            keys = [c.name for c in table.primary_key.columns]
            if not keys:
                raise ValueError(f"{table.name} has no primary key to look its rows up by")
            preparer = self._dialect.identifier_preparer
            columns = ", ".join(preparer.quote(k) for k in keys)
            arrays = ", ".join(
                f"${i}::{table.c[k].type.compile(dialect=self._dialect)}[]"
                for i, k in enumerate(keys, 1)
            )
            sql = (
                f"SELECT count(*) FROM {preparer.format_table(table)} "
                f"WHERE ({columns}) IN (SELECT * FROM unnest({arrays}))"
            )
            hit = self._lookups[table] = (sql, keys)
        return hit

    def _error(self, exc: Exception, batches: list[_Batch], *, lost: bool) -> DBAPIError:
        statements = "; ".join(sql for sql, _, _ in batches)
        dbapi: Any = self._dialect.loaded_dbapi
        translated = _translate(dbapi, exc)
        error = DBAPIError.instance(
            statements,
            None,
            translated,
            dbapi.Error,
            connection_invalidated=lost,
            dialect=self._dialect,
        )
        assert isinstance(error, DBAPIError)
        return error


class _Commit:
    """One insert's :class:`Durability`: its mark and rows, to confirm or look up."""

    __slots__ = ("_batches", "_mark", "_writer")

    def __init__(self, writer: PgWriter, mark: int, batches: list[_Batch]) -> None:
        self._writer = writer
        self._mark = mark
        self._batches = batches

    async def durable(self) -> None:
        await self._writer._confirm(self._mark, self._batches)


async def _write(conn: asyncpg.Connection, batches: list[_Batch]) -> None:
    if len(batches) == 1:
        sql, params, _ = batches[0]
        await conn.executemany(sql, params)  # one Sync: one implicit transaction
        return
    async with conn.transaction():
        for sql, params, _ in batches:
            await conn.executemany(sql, params)


async def _present(conn: asyncpg.Connection, batches: list[_Batch]) -> int:
    present = 0
    for _, _, (sql, key_values) in batches:
        present += int(await conn.fetchval(sql, *key_values))
    return present


def _lost(conn: asyncpg.Connection, exc: BaseException) -> bool:
    """Whether ``exc`` means the connection is gone (the write's outcome unknown)."""
    return conn.is_closed() or isinstance(
        exc, asyncpg.exceptions.ConnectionDoesNotExistError | OSError
    )


def _translate(dbapi: Any, exc: Exception) -> Exception:
    """``exc`` as SQLAlchemy's asyncpg adapter would raise it (IntegrityError, ...)."""
    mapping: dict[type, Any] = getattr(dbapi, "_asyncpg_error_translate", {})
    for cls in type(exc).__mro__:
        if cls in mapping:
            translated: Exception = mapping[cls](exc.args[0] if exc.args else str(exc), exc)
            return translated
    # Not asyncpg's own (a refused or timed-out connect): the connection failed.
    fallback: Exception = dbapi.InterfaceError(str(exc) or type(exc).__name__, exc)
    return fallback
