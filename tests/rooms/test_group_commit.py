"""Group commit: concurrent inserts share a transaction, and each caller learns its own fate."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.services import Services
from rooms.ids import new_id
from rooms.store.group_commit import GroupCommit
from rooms.store.tables import ChatMessageRow
from tests.conftest import NewSession
from tests.rooms.chat_rows import chat_row


async def _stored(services: Services, session_id: str) -> list[int]:
    async with services.database.transaction() as tx:
        rows = await tx.scalars(
            select(ChatMessageRow.seq)
            .where(ChatMessageRow.session_id == session_id)
            .order_by(ChatMessageRow.seq)
        )
        return list(rows)


def _count_commits(services: Services) -> list[int]:
    commits: list[int] = []

    def on_commit(_conn: Any) -> None:
        commits.append(1)

    event.listen(services.database.engine.sync_engine, "commit", on_commit)
    return commits


@pytest.fixture(params=[False, True], ids=["orm", "core"])
def core(request: pytest.FixtureRequest) -> bool:
    """Rows added through the ORM's unit of work, or as one Core INSERT (chat's writer)."""
    return bool(request.param)


async def test_concurrent_rows_are_committed_in_fewer_transactions(
    services: Services, new_session: NewSession, core: bool
) -> None:
    sid = (await new_session(start=True))["id"]
    writer = GroupCommit(services.database, core=core)
    commits = _count_commits(services)
    await asyncio.gather(*(writer.add(chat_row(sid, seq)) for seq in range(1, 41)))
    assert await _stored(services, sid) == list(range(1, 41))
    # The first row commits alone; the 39 that queued behind it go together.
    assert len(commits) < 40


async def test_a_bad_row_fails_alone(
    services: Services, new_session: NewSession, core: bool
) -> None:
    sid = (await new_session(start=True))["id"]
    writer = GroupCommit(services.database, core=core)
    await writer.add(chat_row(sid, 1))
    outcomes = await asyncio.gather(
        writer.add(chat_row(sid, 2)),
        writer.add(chat_row(sid, 3)),
        writer.add(chat_row(sid, 1)),  # the same seq again: a unique violation
        writer.add(chat_row(sid, 4)),
        writer.add(chat_row(sid, 5)),
        return_exceptions=True,
    )
    assert [isinstance(o, Exception) for o in outcomes] == [False, False, True, False, False]
    assert await _stored(services, sid) == [1, 2, 3, 4, 5]


async def test_a_caller_that_goes_away_does_not_undo_the_group(
    services: Services, new_session: NewSession, core: bool
) -> None:
    sid = (await new_session(start=True))["id"]
    writer = GroupCommit(services.database, core=core)
    # Holding SQLite's turn keeps the rows from being committed at once (inline): queued.
    async with services.database.turn():
        first = asyncio.ensure_future(writer.add(chat_row(sid, 1)))
        second = asyncio.ensure_future(writer.add(chat_row(sid, 2)))
        async with asyncio.timeout(30):
            await writer.until_queued(2)  # both queued, neither taken by the writer yet
        second.cancel()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    await writer.add(chat_row(sid, 3))  # the writer's queue is drained: row 2 went with row 1
    async with services.database.transaction() as tx:
        count = await tx.scalar(
            select(func.count()).select_from(ChatMessageRow).where(ChatMessageRow.session_id == sid)
        )
    assert count == 3


async def test_a_core_insert_stores_every_field_and_fills_python_defaults(
    services: Services, new_session: NewSession
) -> None:
    sid = (await new_session(start=True))["id"]
    writer = GroupCommit(services.database, core=True)
    given = chat_row(sid, 1)
    unset = ChatMessageRow(
        id=new_id(), session_id=sid, seq=2, user_id="u2", user_name="Bo", role="host", text="x"
    )
    await asyncio.gather(writer.add(given), writer.add(unset))
    assert unset.created_at is not None  # the column's default, as a flush would set it
    columns = [c.key for c in ChatMessageRow.__table__.columns]
    async with services.database.transaction() as tx:
        stored = list(
            await tx.scalars(
                select(ChatMessageRow)
                .where(ChatMessageRow.session_id == sid)
                .order_by(ChatMessageRow.seq)
            )
        )
    for row, expected in zip(stored, (given, unset), strict=True):
        assert {c: getattr(row, c) for c in columns} == {c: getattr(expected, c) for c in columns}


async def test_a_join_storm_reads_the_sessions_tenant_once_per_transaction(
    services: Services, new_session: NewSession
) -> None:
    """Attendance opens of one room committed together look its tenant up once per group
    commit, not once per row (a 500-join storm made 500 reads in one transaction)."""
    from rooms.model import RoomRole
    from rooms.presence import PresenceEntry
    from rooms.store.tables import AttendanceRow

    sid = (await new_session(start=True))["id"]
    commits = _count_commits(services)
    tenant_reads: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "sessions.tenant_id" in statement and "attendance" not in statement:
            tenant_reads.append(statement)

    engine = services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        entries = [
            PresenceEntry(f"p{i}", f"u{i}", f"User {i}", RoomRole.GUEST, "ws", "n1", i)
            for i in range(40)
        ]
        await asyncio.gather(*(services.attendance.opened(sid, e) for e in entries))
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    groups = len(commits)
    async with services.database.transaction() as tx:
        opened = await tx.scalars(
            select(AttendanceRow.participant_id).where(AttendanceRow.session_id == sid)
        )
        assert sorted(opened) == sorted(e.participant_id for e in entries)
    assert groups < 40
    assert len(tenant_reads) == groups


async def test_then_steps_run_in_the_rows_transaction_and_fail_their_row_alone(
    services: Services, new_session: NewSession, core: bool
) -> None:
    sid = (await new_session(start=True))["id"]
    writer = GroupCommit(services.database, core=core)
    seen: list[int] = []

    def step(seq: int, fail: bool = False) -> Callable[[AsyncSession], Awaitable[None]]:
        async def then(tx: AsyncSession) -> None:
            # The group's rows are in this transaction already (the attendance's webhook
            # is enqueued with its row).
            seen.append(
                int(
                    await tx.scalar(
                        select(func.count())
                        .select_from(ChatMessageRow)
                        .where(ChatMessageRow.session_id == sid)
                    )
                    or 0
                )
            )
            if fail:
                raise RuntimeError("then failed")

        return then

    outcomes = await asyncio.gather(
        writer.add(chat_row(sid, 1), then=step(1)),
        writer.add(chat_row(sid, 2), then=step(2, fail=True)),
        writer.add(chat_row(sid, 3), then=step(3)),
        return_exceptions=True,
    )
    assert [isinstance(o, RuntimeError) for o in outcomes] == [False, True, False]
    assert await _stored(services, sid) == [1, 3]
    assert all(count >= 1 for count in seen)


async def test_a_lone_row_is_committed_at_once_on_sqlite_and_rows_together_still_group(
    services: Services, new_session: NewSession, backend: str
) -> None:
    sid = (await new_session(start=True))["id"]
    writer = GroupCommit(services.database, core=True)
    adding = writer.add(chat_row(sid, 1))
    if backend == "embedded":
        # SQLite's inline commit: done in the first step, no writer task, no task switch.
        with pytest.raises(StopIteration):
            adding.send(None)
    else:
        # PostgreSQL answers over the network: the row goes to the writer task.
        await adding
    # Rows added in one loop pass: the first may go at once, the rest queue as one group.
    tasks = [asyncio.ensure_future(writer.add(chat_row(sid, seq))) for seq in range(2, 7)]
    async with asyncio.timeout(30):
        await writer.until_queued(4)
    await asyncio.gather(*tasks)
    assert await _stored(services, sid) == [1, 2, 3, 4, 5, 6]
