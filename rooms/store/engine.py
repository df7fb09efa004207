"""Opening the database: one async engine per process, SQLite or PostgreSQL.

SQLite is the embedded default. Its writers are serialized with ``BEGIN IMMEDIATE`` (a deferred
transaction that reads first and writes later can fail with SQLITE_BUSY instead of waiting),
WAL mode lets readers run beside the writer, and foreign keys are switched on per connection.
PostgreSQL needs none of that: row locks and conditional updates give the same guarantees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = ["Database", "create_database", "normalize_database_url"]


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


@dataclass(slots=True)
class Database:
    """The engine and its session factory. Call :meth:`dispose` when the process stops."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block exits normally, rolled back otherwise."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_database(url: str, *, echo: bool = False, pool_size: int = 10) -> Database:
    """Create the engine for ``url`` (plain or async driver names are both accepted)."""
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
    engine = create_async_engine(url, **kwargs)
    if is_sqlite:
        _configure_sqlite(engine)
    return Database(
        engine=engine,
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
