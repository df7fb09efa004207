"""PostgreSQL's own writer stores rows as SQLAlchemy's Core would, all of a group or none, and
exactly once through a lost connection (``rooms/store/pg_writer.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import (
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase

from rooms.store import Database, create_database
from rooms.store.availability import database_unavailable
from rooms.store.group_commit import GroupCommit
from rooms.store.pg_writer import PgWriter
from tests.rooms.cutting_proxy import CuttingProxy
from tests.rooms.writer_notes import note, notes_table, stored

notes = notes_table("pg_writer_notes")
metadata = notes.metadata


@pytest.fixture
async def database(postgres_ready: str) -> AsyncIterator[Database]:
    database = create_database(postgres_ready)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
        await database.dispose()


@pytest.fixture
async def proxied(
    postgres_ready: str, database: Database
) -> AsyncIterator[tuple[Database, CuttingProxy]]:
    """A second database handle whose connections go through a :class:`CuttingProxy`."""
    url = make_url(postgres_ready)
    proxy = CuttingProxy(url.host or "127.0.0.1", url.port or 5432)
    port = await proxy.start()
    through = create_database(url.set(host="127.0.0.1", port=port).render_as_string(False))
    try:
        yield through, proxy
    finally:
        await through.dispose()
        await proxy.close()


def _writer(database: Database) -> PgWriter:
    writer = database.writer
    assert isinstance(writer, PgWriter)
    return writer


def test_only_postgresql_on_asyncpg_gets_this_writer() -> None:
    assert isinstance(create_database("postgresql://nobody@127.0.0.1:1/none").writer, PgWriter)
    assert not isinstance(create_database("sqlite:///x.db").writer, PgWriter)


async def test_rows_read_back_as_the_engines_core_insert_writes_them(database: Database) -> None:
    await _writer(database).insert({notes: [note(1), note(2, "x" * 5000)]})
    await _writer(database).insert(
        {notes: [{"id": "n3", "seq": 3, "text": "t", "at": note(3)["at"], "tag": "t"}]}
    )
    assert await stored(database, notes) == [
        ("n1", 1, "hé ✓ 1", note(1)["at"], "plain"),
        ("n2", 2, f"{'x' * 5000} 2", note(2)["at"], "plain"),
        ("n3", 3, "t", note(3)["at"], "t"),
    ]


async def test_a_failing_row_rolls_the_whole_group_back(database: Database) -> None:
    await _writer(database).insert({notes: [note(1)]})
    with pytest.raises(IntegrityError) as caught:
        await _writer(database).insert({notes: [note(2), note(3), {**note(4), "seq": 1}]})
    assert not database_unavailable(caught.value)
    assert [row[1] for row in await stored(database, notes)] == [1]
    await _writer(database).insert({notes: [note(2)]})  # the connection is still good
    assert [row[1] for row in await stored(database, notes)] == [1, 2]


async def test_a_group_commit_on_postgresql_goes_through_the_writer(database: Database) -> None:
    class Base(DeclarativeBase):
        pass

    class Note(Base):  # a mapped class over the test's table, for GroupCommit
        __table__ = notes

    begun: list[Any] = []
    event.listen(database.engine.sync_engine, "begin", begun.append)
    group = GroupCommit(database, core=True)
    outcomes = await asyncio.gather(
        *(group.add(Note(**note(seq))) for seq in (1, 2, 3)),
        group.add(Note(**{**note(4), "seq": 2})),  # a duplicate seq: fails alone
        group.add(Note(**note(5))),
        return_exceptions=True,
    )
    assert [type(o).__name__ for o in outcomes] == [
        "_Commit",
        "_Commit",
        "_Commit",
        "IntegrityError",
        "_Commit",
    ]
    assert not begun  # no transaction through the engine's pool
    assert [row[1] for row in await stored(database, notes)] == [1, 2, 3, 5]
    barriers = _writer(database).flush.barriers
    await asyncio.gather(*(o.durable() for o in outcomes if not isinstance(o, BaseException)))
    assert _writer(database).flush.barriers == barriers + 1  # one flush for all of them


async def test_a_connection_killed_between_writes_is_replaced(database: Database) -> None:
    writer = _writer(database)
    await writer.insert({notes: [note(1)]})
    pid = writer._conn.get_server_pid()  # type: ignore[union-attr]
    async with database.engine.connect() as conn:
        killed = await conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        assert killed.scalar()
    await writer.insert({notes: [note(2), note(3)]})
    assert [row[1] for row in await stored(database, notes)] == [1, 2, 3]


@pytest.mark.parametrize("silent", [False, True], ids=["closed", "silent"])
@pytest.mark.parametrize("cut", ["reply", "request"])
async def test_a_connection_lost_mid_write_stores_the_group_exactly_once(
    database: Database, proxied: tuple[Database, CuttingProxy], cut: str, silent: bool
) -> None:
    """Closed: the connection drops. Silent: it stays open and nothing more gets through;
    the write timeout (here 2 s) gives up on it, as it otherwise never would."""
    through, proxy = proxied
    writer = PgWriter(through.engine, write_timeout=2.0)
    try:
        await writer.insert({notes: [note(1)]})  # connected, the statement prepared
        proxy.armed, proxy.stall = cut, silent
        async with asyncio.timeout(20):
            await writer.insert({notes: [note(2), note(3)]})
        assert proxy.cuts == 1
        assert [row[1] for row in await stored(database, notes)] == [1, 2, 3]
    finally:
        await writer.close()


async def test_an_unreachable_database_is_reported_unavailable_then_recovers(
    database: Database, proxied: tuple[Database, CuttingProxy]
) -> None:
    through, proxy = proxied
    writer = _writer(through)
    await writer.insert({notes: [note(1)]})
    await proxy.close()  # the listener goes: reconnecting fails
    proxy.armed = "request"  # and the open connection is cut at its next write
    with pytest.raises(DBAPIError) as caught:
        await writer.insert({notes: [note(2)]})
    assert database_unavailable(caught.value)
    assert [row[1] for row in await stored(database, notes)] == [1]


async def test_warming_connects_now_or_leaves_it_to_the_first_write(
    database: Database, proxied: tuple[Database, CuttingProxy]
) -> None:
    writer = _writer(database)
    await writer.warm()
    assert writer._conn is not None
    assert not writer._conn.is_closed()
    through, proxy = proxied
    await proxy.close()
    await _writer(through).warm()  # unreachable: logged, not raised
    with pytest.raises(DBAPIError):
        await _writer(through).insert({notes: [note(1)]})


async def test_commits_skip_the_flush_and_barriers_keep_the_servers_setting(
    database: Database,
) -> None:
    writer = _writer(database)
    await writer.warm()
    await (await writer.insert({notes: [note(1)]})).durable()
    assert writer._conn is not None
    assert writer.flush.connection is not None
    assert await writer._conn.fetchval("SHOW synchronous_commit") == "off"
    async with database.engine.connect() as conn:
        default = (await conn.exec_driver_sql("SHOW synchronous_commit")).scalar()
    assert await writer.flush.connection.fetchval("SHOW synchronous_commit") == default


async def test_one_barrier_covers_every_commit_before_it_and_none_after(database: Database) -> None:
    writer = _writer(database)
    await writer.warm()
    commits = [await writer.insert({notes: [note(seq)]}) for seq in (1, 2, 3)]
    await asyncio.gather(*(c.durable() for c in commits))
    assert writer.flush.barriers == 1
    await commits[0].durable()  # covered already: no round trip
    assert writer.flush.barriers == 1
    later = await writer.insert({notes: [note(4)]})
    await later.durable()
    assert writer.flush.barriers == 2


@pytest.mark.parametrize("silent", [False, True], ids=["closed", "silent"])
@pytest.mark.parametrize("cut", ["reply", "request"])
async def test_a_barrier_that_fails_is_settled_by_looking_the_rows_up(
    database: Database, proxied: tuple[Database, CuttingProxy], cut: str, silent: bool
) -> None:
    through, proxy = proxied
    writer = PgWriter(through.engine, write_timeout=2.0)
    try:
        await writer.warm()
        commit = await writer.insert({notes: [note(1), note(2)]})
        proxy.armed, proxy.stall = cut, silent  # the barrier's query or its answer is lost
        async with asyncio.timeout(20):
            await commit.durable()
        assert proxy.cuts == 1
        await (await writer.insert({notes: [note(3)]})).durable()  # barriers work again
    finally:
        await writer.close()


async def test_a_commit_no_barrier_can_vouch_for_is_reported_lost_when_gone(
    database: Database,
) -> None:
    """A barrier's connection opened after a commit proves nothing about it (a restart in
    between would have lost it): the commit is looked up, and one that is gone (deleted here,
    as a restart before its flush would lose it) is reported, as the database being away."""
    writer = _writer(database)
    await writer.warm()
    kept = await writer.insert({notes: [note(1)]})
    gone = await writer.insert({notes: [note(2)]})
    assert writer.flush.connection is not None
    pid = writer.flush.connection.get_server_pid()
    async with database.engine.begin() as conn:
        await conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        await conn.execute(notes.delete().where(notes.c.seq == 2))
    await kept.durable()
    with pytest.raises(DBAPIError) as caught:
        await gone.durable()
    assert database_unavailable(caught.value)
    await (await writer.insert({notes: [note(3)]})).durable()  # after it, as ever
    assert writer.flush.barriers >= 1


async def test_an_unreachable_database_cannot_confirm_a_commit(
    database: Database, proxied: tuple[Database, CuttingProxy]
) -> None:
    through, proxy = proxied
    writer = _writer(through)
    await writer.warm()
    commit = await writer.insert({notes: [note(1)]})
    await proxy.close()  # the listener goes: reconnecting fails
    proxy.armed = "request"  # and the barrier's connection is cut at its query
    with pytest.raises(DBAPIError) as caught:
        await commit.durable()
    assert database_unavailable(caught.value)
