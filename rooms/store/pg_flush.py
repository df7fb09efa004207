"""PostgreSQL's flush barrier: when rows committed without waiting for the WAL flush are durable.

:class:`~rooms.store.pg_writer.PgWriter` commits on a connection with ``synchronous_commit =
off`` (the rows are visible at once) and numbers its commits (*marks*). :meth:`FlushBarrier.
confirm` returns once a commit is durable: it waits for a *barrier*, a transaction on a
connection of its own that writes one WAL record (``pg_logical_emit_message``) and commits
with the server's own ``synchronous_commit``, so it returns once the WAL up to it is flushed
(and replicated, if the server is configured so), which covers every commit before it. One
barrier covers every commit made before it began; it begins :attr:`FlushBarrier.delay` after
the first commit that waits for it (as PostgreSQL's ``commit_delay`` does for its own
flushes), so that commits close together share one (the writer's is 0: its commits come
grouped already, after the room's fan-out; ``group_commit.py``).

A barrier proves nothing about commits made before its connection was opened: a restart of
the database between such a commit and the barrier would have lost the commit and closed the
old connection. Those commits (only those not yet covered when the barrier's connection was
lost), and the commits whose barrier failed, are looked up by the caller's ``present`` after a
barrier on the new connection: present, durable; absent, lost (:class:`RowsLost`). This rests
on a restart of PostgreSQL closing this process's connections, as it does for a direct
connection; a pooler that keeps client connections open across a server restart hides that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

from rooms.futures import cancel_and_wait

__all__ = ["FlushBarrier", "RowsLost", "terminate"]

#: One WAL record in a transaction of its own: committed with the server's synchronous_commit,
#: it returns once the WAL up to it is flushed (a transaction that writes no WAL, a bare
#: ``txid_current()``, would not wait for the flush).
BARRIER = "SELECT pg_logical_emit_message(true, 'liveclass', 'flush')"


def terminate(conn: asyncpg.Connection | None) -> None:
    """Close a suspect connection at once, with no goodbye that could hang."""
    if conn is not None and not conn.is_closed():
        conn.terminate()


class RowsLost(ConnectionError):
    """Committed rows are gone: the database restarted before they were flushed."""


class FlushBarrier:
    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        *,
        timeout: float,
        delay: float,
    ) -> None:
        self._connect = connect
        self._timeout = timeout
        #: How long a barrier waits before it starts.
        self.delay = delay
        #: Commits so far; a commit's number is its *mark* (:meth:`committed`).
        self._committed = 0
        #: Every mark up to this one is durable, or in :attr:`_doubt`.
        self._flushed = 0
        #: Marks (after, upto] committed before the barrier's connection was opened and not
        #: covered by a barrier then: each is looked up before it is called durable.
        self._doubt = (0, 0)
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        #: Barriers run (each one WAL flush that covered every commit before it).
        self.barriers = 0

    def committed(self) -> int:
        """Count one more commit (call once it returned); its mark."""
        self._committed += 1
        return self._committed

    async def confirm(
        self, mark: int, present: Callable[[asyncpg.Connection], Awaitable[bool]]
    ) -> None:
        """Return once the commit numbered ``mark`` is durable. ``present(conn)`` says
        whether its rows are stored (asked only when no barrier can vouch for it). Raises
        :class:`RowsLost` when they are gone, or what a barrier or the lookup raised."""
        failed = False
        if not self._doubtful(mark) and mark > self._flushed:
            try:
                while mark > self._flushed and not self._doubtful(mark):
                    task = self._task
                    if task is None:
                        task = self._task = asyncio.get_running_loop().create_task(self._run())
                    # shield: a waiter that goes away must not cancel the others' barrier
                    await asyncio.shield(task)
            except asyncio.CancelledError:
                raise
            except Exception:
                failed = True  # settled by the lookup below
        if not failed and not self._doubtful(mark):
            return
        async with self._lock:
            try:
                async with asyncio.timeout(self._timeout):
                    conn = await self._connection()
                    await conn.fetchval(BARRIER)
                    found = await present(conn)
            except BaseException:
                self._drop()
                raise
        if not found:
            raise RowsLost("committed rows are gone: the database restarted before a flush")

    async def warm(self) -> None:
        """Open the barrier's connection now (at start-up)."""
        async with self._lock:
            await self._connection()

    async def close(self) -> None:
        """Cancel a barrier waited for and close the connection (idempotent)."""
        await cancel_and_wait(self._task)
        self._drop()

    @property
    def connection(self) -> asyncpg.Connection | None:
        """The barrier's connection, if open (for tests)."""
        return self._conn

    def _doubtful(self, mark: int) -> bool:
        after, upto = self._doubt
        return after < mark <= upto

    async def _run(self) -> None:
        try:
            await asyncio.sleep(self.delay)
            async with self._lock:
                try:
                    async with asyncio.timeout(self._timeout):
                        conn = await self._connection()
                        upto = self._committed
                        await conn.fetchval(BARRIER)
                except BaseException:
                    self._drop()
                    raise
                self.barriers += 1
                self._flushed = max(self._flushed, upto)
        finally:
            self._task = None

    async def _connection(self) -> asyncpg.Connection:
        """The barrier's connection (under :attr:`_lock`). A new one proves nothing about
        the commits before it: those not yet covered go into :attr:`_doubt`."""
        conn = self._conn
        if conn is None or conn.is_closed():
            self._conn = None
            conn = await self._connect()
            if self._committed > self._flushed:
                after, upto = self._doubt
                # A doubt range from an earlier connection grows to cover these; else one begins.
                self._doubt = (after if upto > after else self._flushed, self._committed)
                self._flushed = self._committed
            self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        terminate(conn)
