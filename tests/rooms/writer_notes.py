"""The table the store writers' tests write to (``test_sqlite_writer.py``, ``test_pg_writer.py``):
a key, a unique number (a failing row), text beyond ASCII, a timestamp with microseconds and a
column with a server default."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, UniqueConstraint, select

from rooms.store import Database
from rooms.store.types import UTCDateTime

__all__ = ["note", "notes_table", "stored"]


def notes_table(name: str) -> Table:
    """The notes table under ``name``, in a MetaData of its own."""
    return Table(
        name,
        MetaData(),
        Column("id", String(36), primary_key=True),
        Column("seq", Integer, nullable=False),
        Column("text", Text, nullable=False),
        Column("at", UTCDateTime(), nullable=False),
        Column("tag", String(8), server_default="plain"),
        UniqueConstraint("seq"),
    )


def note(seq: int, text: str = "hé ✓") -> dict[str, Any]:
    """Row ``seq``: its id, number, text and a time that keeps its microseconds."""
    at = datetime(2026, 12, 7, 3, seq % 60, 1, 123456, tzinfo=UTC)
    return {"id": f"n{seq}", "seq": seq, "text": f"{text} {seq}", "at": at}


async def stored(database: Database, notes: Table) -> list[tuple[Any, ...]]:
    """Every row of ``notes``, by number."""
    async with database.transaction() as tx:
        return [tuple(r) for r in await tx.execute(select(notes).order_by(notes.c.seq))]
