"""Group commit: many concurrent inserts, one transaction.

A busy room posts dozens of chat messages a second and a join storm opens hundreds of
attendance rows, each awaited by its caller before it may go on ("nothing acknowledged is
lost"). One transaction per row costs a pool connection, a round trip per statement and a
commit (an fsync on PostgreSQL) each; beyond the pool's size the callers queue for
connections. :class:`GroupCommit` instead queues the rows and lets one writer task commit
everything that queued up while the previous commit ran, in one transaction. Each caller's
:meth:`GroupCommit.add` returns once *its* row is committed, or raises what the commit
raised; when a group fails, its rows are retried one by one so one bad row fails alone.

With ``core=True`` a group is one Core ``INSERT`` of every row's column values (an
executemany), not the ORM's unit of work, followed by the rows' ``then`` steps in the same
transaction: the rows are never attached to a session (what they hold is what was stored, every
column set by the caller, or by the columns' Python defaults here; a ``then`` step must not
expect to find them in its session's identity map), and the ORM's per-object bookkeeping, about
2 ms of CPU per chat message on the embedded default, is skipped. A group without ``then``
steps (chat) goes to the database's own writer (``Database.writer``): on a SQLite file a commit
on the loop's own thread (``rooms/store/sqlite_writer.py``; one trip to its thread when the
file is locked) instead of about nine trips to aiosqlite's, on PostgreSQL one round trip on the
writer's connection (``rooms/store/pg_writer.py``) instead of the pool's five or so; a ``then``
step needs a session, so a group with one goes through the pooled transaction.

:meth:`GroupCommit.add` returns once the row is committed (visible), with the group's
:class:`~rooms.store.durability.Durability`: on PostgreSQL's writer a commit does not wait for
the WAL flush, and ``await durability.durable()`` is what a caller awaits before it acknowledges
the row to anyone (``rooms/store/pg_writer.py``); everywhere else it returns at once.

*The room's readers first.* A group bound for the database's writer waits the writer's
``commit_delay`` (counted from its oldest row's arrival) before it is written, as PostgreSQL's
own ``commit_delay`` waits before a flush: PostgreSQL's writer (10 ms) so that the database's
processes run after the chat message's fan-out has been read, not on the cores its 500
readers and the hub share (on two cores, inserts made 10 ms late lowered the p99 of a
delivery from a median of 16.5 ms to 14.8 in four alternated rounds;
``bench/results/20261208-s18-commit-delay/``), and so that a busy room's messages share one
commit. SQLite's inline commit waits for nothing (0). Nothing waits
while the database is failing: then the room waits for the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper

from rooms.futures import settle
from rooms.store.durability import DURABLE, Durability
from rooms.store.engine import Database

#: A step run in the row's transaction after the row is added (say, an outbox event).
Then = Callable[[AsyncSession], Awaitable[None]]


__all__ = ["GroupCommit"]


class _Queued(NamedTuple):
    """A row waiting for its group: its step, its caller's future, when it came (loop time)."""

    row: Any
    then: Then | None
    done: asyncio.Future[Durability]
    at: float


class GroupCommit:
    def __init__(self, database: Database, *, max_rows: int = 500, core: bool = False) -> None:
        self._db = database
        self._max_rows = max_rows
        self._core = core
        self._queue: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None
        self._queued = asyncio.Event()  # set whenever a row joins the queue
        self._committed_now = False  # a row was committed at once in this loop pass

    def _next_pass(self) -> None:
        self._committed_now = False

    async def add(self, row: Any, *, then: Then | None = None) -> Durability:
        """Insert the ORM ``row`` (and run ``then`` in the same transaction); returns when it
        is committed, with what says when it is durable (await that before acknowledging
        the row)."""
        if (
            self._core
            and then is None
            and self._writer is None
            and not self._queue
            and not self._committed_now
        ):
            # Nothing queued and no group being written: commit now if the database's writer
            # can without waiting (SQLite's inline commit), saving the writer task's switches.
            # At most once per loop pass: rows that come together still form a group.
            writer = self._db.writer
            if (
                writer is not None
                and writer.commits_inline
                and self._db.turn_free()
                and writer.insert_now(_by_table([row]))
            ):
                self._committed_now = True
                asyncio.get_running_loop().call_soon(self._next_pass)
                return DURABLE
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Durability] = loop.create_future()
        self._queue.append(_Queued(row, then, done, loop.time()))
        self._queued.set()
        if self._writer is None:
            self._writer = loop.create_task(self._write())
        # shield: a caller that goes away must not cancel the group's commit for the others.
        return await asyncio.shield(done)

    async def until_queued(self, rows: int) -> None:
        """Return once ``rows`` rows wait in the queue at once, not yet taken by the writer
        (lets a caller, a test say, act on rows known to be queued; waits for ever otherwise,
        so bound it)."""
        while len(self._queue) < rows:
            self._queued.clear()
            await self._queued.wait()

    async def _write(self) -> None:
        group: list[_Queued] = []
        try:
            while self._queue:
                await self._delayed()
                group = self._queue[: self._max_rows]
                del self._queue[: self._max_rows]
                try:
                    durability = await self._commit([(q.row, q.then) for q in group])
                except Exception as exc:
                    if len(group) == 1:
                        settle(group[0].done, exc)
                        continue
                    for row, then, done, _ in group:
                        try:
                            alone = await self._commit([(row, then)])
                        except Exception as single:
                            settle(done, single)
                        else:
                            settle(done, None, alone)
                    continue
                for queued in group:
                    settle(queued.done, None, durability)
        finally:
            self._writer = None
            # Cancelled (shutdown): what was not confirmed counts as not written.
            for queued in group + self._queue:
                settle(queued.done, asyncio.CancelledError())
            self._queue.clear()

    async def _delayed(self) -> None:
        """Wait out the writer's ``commit_delay`` from the oldest queued row's arrival, when
        the next group goes to the writer and the database is not failing (module doc)."""
        writer = self._db.writer
        if not self._core or writer is None or writer.commit_delay <= 0 or self._db.failing:
            return
        if any(queued.then is not None for queued in self._queue[: self._max_rows]):
            return  # a pooled transaction, not the writer's
        loop = asyncio.get_running_loop()
        wait = self._queue[0].at + writer.commit_delay - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _commit(self, items: list[tuple[Any, Then | None]]) -> Durability:
        """The rows (one Core INSERT per mapped class with ``core``, else the ORM's unit of
        work), then their ``then`` steps, in one transaction."""
        by_table: dict[Table, list[dict[str, Any]]] = {}
        if self._core:
            by_table = _by_table([row for row, _ in items])
            writer = self._db.writer
            if writer is not None and all(then is None for _, then in items):
                # nothing but rows: the database's own writer, in one step
                async with self._db.turn():
                    return await writer.insert(by_table)
        async with self._db.transaction() as tx:
            if self._core:
                for table, values in by_table.items():
                    await tx.execute(insert(table), values)
            else:
                tx.add_all([row for row, _ in items])
            for _, then in items:
                if then is not None:
                    await then(tx)
        return DURABLE


def _by_table(rows: list[Any]) -> dict[Table, list[dict[str, Any]]]:
    """ORM ``rows``' column values (:func:`_values`), by their tables."""
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for row in rows:
        table = row.__mapper__.local_table
        assert isinstance(table, Table)
        by_table.setdefault(table, []).append(_values(row))
    return by_table


def _values(row: Any) -> dict[str, Any]:
    """``row``'s column values by column name; a column left unset takes its Python default
    (scalar or zero-argument callable), set on ``row`` too, as a flush would."""
    mapper: Mapper[Any] = row.__mapper__
    values: dict[str, Any] = {}
    state = row.__dict__
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if attr.key in state:
            values[column.name] = state[attr.key]
            continue
        default = column.default
        if default is None:
            continue
        arg = getattr(default, "arg", None)
        value = arg(None) if callable(arg) else arg
        setattr(row, attr.key, value)
        values[column.name] = value
    return values
