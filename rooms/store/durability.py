"""When a committed row is also safe from a crash of the database.

A row writer (``rooms/store/engine.py``'s ``RowWriter``) returns a :class:`Durability` for each
insert: the insert itself returns once the rows are *committed* (every later reader sees them),
and ``await durability.durable()`` returns once they are also *durable* (they survive a crash of
the database, as its own configuration defines that) or raises when that cannot be confirmed.

The two differ on PostgreSQL only. Its writer commits without waiting for the WAL flush
(``synchronous_commit = off`` on its own connection, ``rooms/store/pg_writer.py``), so a chat
message reaches the room as soon as it is committed, without an fsync on the way; the sender's
acknowledgement waits for :meth:`Durability.durable`, which one flush covers for every message
committed before it. On a SQLite file (WAL, ``synchronous=NORMAL``) and through the pooled
transaction, a commit is already as durable as it gets: :data:`DURABLE`.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["DURABLE", "Durability"]


class Durability(Protocol):
    async def durable(self) -> None:
        """Return once the insert's rows are durable; raise the database's error (a
        SQLAlchemy ``DBAPIError``) when that cannot be confirmed, the rows possibly lost."""
        ...


class _AlreadyDurable:
    async def durable(self) -> None:
        return None


#: Rows durable at their commit (SQLite, pooled transactions).
DURABLE: Durability = _AlreadyDurable()
