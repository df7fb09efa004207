"""A group bound for a writer with a commit delay waits it out (the room's readers first),
except while the database is failing and for groups with ``then`` steps."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from api.services import Services
from rooms.store.durability import DURABLE, Durability
from rooms.store.engine import Database
from rooms.store.group_commit import GroupCommit
from tests.conftest import NewSession
from tests.rooms.chat_rows import chat_row


class _DelayingWriter:
    """A row writer that records each group it is given (sequence numbers) in a queue."""

    commits_inline = False

    def __init__(self, commit_delay: float) -> None:
        self.commit_delay = commit_delay
        self.groups: asyncio.Queue[list[int]] = asyncio.Queue()

    async def insert(self, rows: dict[Table, list[dict[str, Any]]]) -> Durability:
        self.groups.put_nowait([values["seq"] for batch in rows.values() for values in batch])
        return DURABLE

    def insert_now(self, rows: dict[Table, list[dict[str, Any]]]) -> bool:
        return False

    async def close(self) -> None:
        return None


@pytest.fixture
def database(services: Services) -> Iterator[Database]:
    """The test's database, its writer swapped for a :class:`_DelayingWriter` per test."""
    database = services.database
    kept = database.writer
    yield database
    database.writer = kept
    database.failing = False


async def _passes(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_rows_within_the_delay_of_the_first_go_together_once_it_is_over(
    database: Database,
) -> None:
    # A second: far above any stall a busy machine puts between the two adds below.
    writer = database.writer = _DelayingWriter(commit_delay=1.0)
    group = GroupCommit(database, core=True)
    first = asyncio.ensure_future(group.add(chat_row("s", 1)))
    await _passes(5)  # without the delay the writer task would have written row 1 by now
    assert writer.groups.empty()
    second = asyncio.ensure_future(group.add(chat_row("s", 2)))
    async with asyncio.timeout(30):
        await asyncio.gather(first, second)
    assert writer.groups.get_nowait() == [1, 2]
    assert writer.groups.empty()


async def test_a_failing_database_gets_its_rows_at_once(database: Database) -> None:
    writer = database.writer = _DelayingWriter(commit_delay=3600)
    database.failing = True  # the room waits for this commit: no delay in front of it
    group = GroupCommit(database, core=True)
    async with asyncio.timeout(30):
        await group.add(chat_row("s", 1))
    assert writer.groups.get_nowait() == [1]


async def test_a_group_with_then_steps_does_not_wait(
    database: Database, new_session: NewSession
) -> None:
    sid = (await new_session(start=True))["id"]
    writer = database.writer = _DelayingWriter(commit_delay=3600)
    group = GroupCommit(database, core=True)
    ran: list[int] = []

    async def then(tx: AsyncSession) -> None:
        ran.append(1)

    async with asyncio.timeout(30):  # the pooled transaction, not the delaying writer
        await group.add(chat_row(sid, 1), then=then)
    assert ran == [1]
    assert writer.groups.empty()
