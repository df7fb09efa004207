"""Opening the database: one async engine per process, SQLite or PostgreSQL.

SQLite is the embedded default. Its writers are serialized with ``BEGIN IMMEDIATE`` (a deferred
transaction that reads first and writes later can fail with SQLITE_BUSY instead of waiting),
WAL mode lets readers run beside the writer, and foreign keys are switched on per connection.
PostgreSQL needs none of that: row locks and conditional updates give the same guarantees.

Every SQLite transaction takes the write lock, so this process's transactions first take turns
on an asyncio lock: otherwise the one that finds the file locked waits in SQLite's busy handler
on its driver thread, which sleeps 1, 2, 5, 10 ... up to 100 ms between tries and so wakes late
after the lock is free (a 500-client class chatting at 20 messages/s saw chat commits wait up
to 145 ms behind the webhook dispatcher's poll and attendance writes). The wait for a turn is
bounded (:data:`TURN_WAIT`): a transaction that awaits, while it holds the turn, work that needs
a transaction of another task would otherwise wait for ever. Past the bound the transaction
goes ahead without its turn and meets the busy handler, as every transaction did before (and
as other processes on the same file, a media worker or the CLI, always do).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Table, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from rooms.store.availability import database_unavailable
from rooms.store.durability import Durability
from rooms.store.pg_writer import PgWriter
from rooms.store.sqlite_writer import SQLITE_PRAGMAS, SqliteWriter

__all__ = ["TURN_WAIT", "Database", "RowWriter", "create_database", "normalize_database_url"]

#: Seconds a SQLite transaction waits for its turn before it goes ahead without it. Turns last
#: a few ms (a chat group commit, a poll); a wait this long means the holder awaits something.
TURN_WAIT = 0.1

log = logging.getLogger(__name__)


def normalize_database_url(url: str) -> str:
    """Pick the async driver for a plain URL (``postgresql://`` → asyncpg, ``sqlite://`` →
    aiosqlite), so operators can paste the URL their tools already use."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif driver == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


class RowWriter(Protocol):
    """Plain inserts past the ORM and the pool, in one trip (SQLite: ``sqlite_writer.py``,
    PostgreSQL: ``pg_writer.py``)."""

    #: Whether :meth:`insert_now` can ever commit (SQLite's inline commit; never PostgreSQL).
    commits_inline: bool
    #: Seconds a group commit waits after its oldest row before it writes the group
    #: (``rooms/store/group_commit.py``: the room's readers first, a busy room's rows together).
    commit_delay: float

    async def insert(self, rows: dict[Table, list[dict[str, Any]]]) -> Durability:
        """Commit ``rows`` (visible to every reader on return); the result says when they
        are also durable (``rooms/store/durability.py``)."""
        ...

    def insert_now(self, rows: dict[Table, list[dict[str, Any]]]) -> bool:
        """Commit ``rows`` at once, without awaiting anything: True once committed; False,
        nothing written, when that would mean waiting (then :meth:`insert`)."""
        ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class Database:
    """The engine and its session factory. Call :meth:`dispose` when the process stops."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    #: SQLite only: this process's transactions take turns on it (see the module's doc).
    turns: asyncio.Lock | None = None
    #: How long a transaction waits for its turn before it goes ahead without it.
    turn_wait: float = TURN_WAIT
    #: Transactions that went ahead without their turn (the wait ran out).
    turn_timeouts: int = field(default=0, init=False)
    #: Plain inserts in one step: on a SQLite file, committed on the loop's thread (or its
    #: writer's thread when the file is locked; ``rooms/store/sqlite_writer.py``), on
    #: PostgreSQL, one round trip on the writer's own connection (``pg_writer.py``).
    writer: RowWriter | None = None
    #: Whether the database's last answer was a failure to reach it (``observe``): chat then
    #: stores a message before the room sees it, so what cannot be stored is seen by nobody.
    failing: bool = field(default=False, init=False)
    _holder: asyncio.Task[object] | None = field(default=None, init=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block exits normally, rolled back otherwise.

        On SQLite it first waits for this process's other transactions to end, at most
        :attr:`turn_wait` seconds, so it may await other tasks' transactions inside it."""
        try:
            async with self.turn(), self.sessionmaker() as session, session.begin():
                yield session
        except Exception as exc:
            self.observe(exc)
            raise
        self.failing = False

    def observe(self, exc: BaseException) -> None:
        """Note a failed statement or write: the database counts as :attr:`failing` when it
        could not be reached (``database_unavailable``) until a transaction or write
        succeeds."""
        if database_unavailable(exc):
            self.failing = True

    def turn_free(self) -> bool:
        """Whether a write may go ahead at once, with no turn to wait for: on PostgreSQL
        always; on SQLite when no transaction of this process holds the turn (its own
        transaction would hold the file's write lock too). Only for a write that does not
        await before it is done."""
        turns = self.turns
        return turns is None or not turns.locked()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """SQLite: this process's turn to write (see the module's doc), or the bounded wait for
        it passed; a no-op on PostgreSQL and inside the holder's own turn."""
        turns = self.turns
        task = asyncio.current_task()
        # One opened inside another by the task holding the turn must not queue behind it.
        nested = task is not None and task is self._holder
        if turns is None or nested or not await self._take_turn(turns):
            yield
            return
        self._holder = task
        try:
            yield
        finally:
            self._holder = None
            turns.release()

    async def _take_turn(self, turns: asyncio.Lock) -> bool:
        """Acquire ``turns``; False (not acquired) once :attr:`turn_wait` has passed."""
        # Always bounded: even an unlocked Lock queues a newcomer behind a woken waiter.
        try:
            async with asyncio.timeout(self.turn_wait):
                await turns.acquire()
        except TimeoutError:
            self.turn_timeouts += 1
            # Debug: a queue of concurrent transactions may pass the bound too (then each
            # waits in the busy handler, as before); the stack tells which transaction waited.
            log.debug("went ahead without a turn after %.3f s", self.turn_wait, stack_info=True)
            return False
        return True

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def warm_writer(self) -> None:
        """Open PostgreSQL's writer connection now (start-up), not at the first chat message;
        never raises (the first write tries again)."""
        if isinstance(self.writer, PgWriter):
            await self.writer.warm()

    async def dispose(self) -> None:
        if self.writer is not None:
            await self.writer.close()
        await self.engine.dispose()


def create_database(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    statement_timeout: float | None = 30.0,
) -> Database:
    """Create the engine for ``url`` (plain or async driver names are both accepted).

    ``statement_timeout`` (PostgreSQL on asyncpg; None: none): how long a pooled connection
    waits for the server's answer to one statement (and to connect) before the transaction
    fails with :class:`TimeoutError`, which :func:`~rooms.store.availability.database_unavailable`
    counts as the database being away (a 503). Without it a server or network that goes silent
    with the connection open holds the request for as long as TCP keeps the connection."""
    url = normalize_database_url(url)
    is_sqlite = url.startswith("sqlite")
    # A SQLite file has no server to lose a connection to: a ping before every checkout
    # would only cost a round trip to the driver's thread per transaction.
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": not is_sqlite}
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = pool_size
        if statement_timeout is not None and url.startswith("postgresql+asyncpg"):
            kwargs["connect_args"] = {
                "command_timeout": statement_timeout,
                "timeout": statement_timeout,
            }
    engine = create_async_engine(url, **kwargs)
    if is_sqlite:
        _configure_sqlite(engine)
    return Database(
        engine=engine,
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
        turns=asyncio.Lock() if is_sqlite else None,
        writer=SqliteWriter.for_url(url) if is_sqlite else PgWriter.for_engine(engine),
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
