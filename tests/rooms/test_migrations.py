"""The migrations build exactly the schema the models declare, on SQLite and on PostgreSQL, and
the database itself enforces the constraints the services rely on.

Each test starts from an empty database: a new SQLite file, or a PostgreSQL database of its own
(``<worker database>_migrations``, recreated per test), so ``upgrade_database`` really runs
every migration.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, inspect, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from rooms.store import Database, create_database, upgrade_database
from rooms.store.migrate import alembic_config
from rooms.store.tables import Base
from tests import services as svc

TABLES = {
    "sessions",
    "enrollments",
    "feedback",
    "attendance",
    "chat_messages",
    "recordings",
    "session_bans",
    "schedules",
    "waitlist",
    "polls",
    "poll_votes",
    "questions",
    "participant_activity",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
}
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
NOW = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def _t(name: str) -> Table:
    return Base.metadata.tables[name]


def _migrations_database() -> str:
    return f"{svc.postgres_database()}_migrations"


async def _recreate_postgres(name: str) -> None:
    conn = await asyncpg.connect(svc.PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of the backend's kind."""
    if backend == "embedded":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    name = _migrations_database()
    asyncio.run(_recreate_postgres(name))
    base, _, _ = svc.PG_ADMIN_URL.rpartition("/")
    yield f"{base}/{name}"


@pytest.fixture
async def db(empty_url: str) -> AsyncIterator[Database]:
    database = create_database(empty_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def migrated(db: Database) -> Database:
    await upgrade_database(db)
    return db


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": False,
            "target_metadata": Base.metadata,
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def _diff(database: Database) -> list[Any]:
    async with database.engine.connect() as conn:
        return await conn.run_sync(_differences)


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def _version(database: Database) -> list[str]:
    async with database.engine.connect() as conn:
        rows = await conn.exec_driver_sql("SELECT version_num FROM alembic_version")
        return [row[0] for row in rows]


# -- The schema -------------------------------------------------------------------------------


async def test_empty_database_has_no_tables(db: Database) -> None:
    assert await _tables(db) == set()
    # The comparison does see a difference when the schema is missing (it can fail).
    assert len(await _diff(db)) >= len(TABLES)


async def test_migrations_build_exactly_the_models(db: Database) -> None:
    await upgrade_database(db)
    assert await _tables(db) == TABLES | {"alembic_version"}
    assert await _diff(db) == []


async def test_upgrading_twice_is_a_no_op(migrated: Database) -> None:
    version = await _version(migrated)
    assert version == [HEAD]
    async with migrated.engine.begin() as conn:
        await conn.execute(_t("sessions").insert().values(**_session()))
    await upgrade_database(migrated)
    assert await _version(migrated) == version
    assert await _diff(migrated) == []
    async with migrated.engine.connect() as conn:
        count = (await conn.execute(select(_t("sessions").c.id))).all()
    assert len(count) == 1


async def test_downgrade_to_base_and_back(migrated: Database) -> None:
    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "base")

    async with migrated.engine.begin() as conn:
        await conn.run_sync(downgrade)
    assert await _tables(migrated) == {"alembic_version"}
    await upgrade_database(migrated)
    assert await _diff(migrated) == []


async def test_stored_recording_links_lose_their_host(db: Database) -> None:
    """0005: a recordingUrl stored with the host of the day keeps only its path (links are
    built per answer since); a link to elsewhere stays as it is."""
    await upgrade_database(db, "0004")
    session = (
        "INSERT INTO sessions (id, tenant_id, room_name, instructor_id, instructor_name, title,"
        " description, session_type, status, scheduled_start, scheduled_end, max_participants,"
        " enrolled_count, requires_enrollment, price, metadata, featured, recording_url,"
        " created_at, updated_at) VALUES (:id, 'acme', :id, 't', 'T', 'x', '', 'group', 'ended',"
        " :now, :later, 5, 0, false, 0, '{}', false, :url, :now, :now)"
    )
    recording = (
        "INSERT INTO recordings (id, session_id, tenant_id, source, status, created_by,"
        " created_at) VALUES (:id, :sid, 'acme', :source, 'ready', 't', :now)"
    )
    own = "http://127.0.0.1:8000/api/v1/recordings/r-1/download"
    times = {"now": NOW, "later": NOW + timedelta(hours=1)}
    async with db.engine.begin() as conn:
        await conn.execute(text(session), {"id": "s-own", "url": own, **times})
        await conn.execute(text(session), {"id": "s-link", "url": "s3://b/x.mp4", **times})
        await conn.execute(
            text(recording), {"id": "r-1", "sid": "s-own", "source": "upload", **times}
        )
        await conn.execute(
            text(recording), {"id": "r-2", "sid": "s-link", "source": "link", **times}
        )
    await upgrade_database(db)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, recording_url FROM sessions"))).all()
        urls: dict[str, str | None] = {row[0]: row[1] for row in rows}
    assert urls == {"s-own": "/api/v1/recordings/r-1/download", "s-link": "s3://b/x.mp4"}


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_sqlite_connections_enforce_foreign_keys(migrated: Database) -> None:
    assert migrated.dialect == "sqlite"
    async with migrated.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1


# -- Constraints at the SQL level -------------------------------------------------------------


def _session(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "s-1",
        "tenant_id": "acme",
        "room_name": "algebra-1",
        "instructor_id": "t-1",
        "instructor_name": "Tina",
        "title": "Algebra",
        "description": "",
        "session_type": "group",
        "status": "scheduled",
        "scheduled_start": NOW,
        "scheduled_end": NOW + timedelta(hours=1),
        "max_participants": 30,
        "enrolled_count": 0,
        "requires_enrollment": False,
        "price": 0,
        "meta": {},
        "featured": False,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    # ``meta`` is the attribute; the column is called "metadata".
    values["metadata"] = values.pop("meta")
    return values


def _enrollment(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "e-1",
        "session_id": "s-1",
        "tenant_id": "acme",
        "user_id": "u-1",
        "user_name": "Sam",
        "status": "active",
        "enrolled_at": NOW,
        "paid": False,
    }
    values.update(overrides)
    return values


def _message(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "m-1",
        "session_id": "s-1",
        "seq": 1,
        "user_id": "u-1",
        "user_name": "Sam",
        "role": "guest",
        "text": "hello",
        "created_at": NOW,
    }
    values.update(overrides)
    return values


async def _insert(database: Database, table: str, *rows: dict[str, Any]) -> None:
    async with database.engine.begin() as conn:
        for row in rows:
            await conn.execute(_t(table).insert().values(**row))


async def _refused(database: Database, table: str, row: dict[str, Any], *names: str) -> None:
    """Inserting ``row`` violates a constraint; the error names one of ``names``."""
    with pytest.raises(IntegrityError) as raised:
        await _insert(database, table, row)
    message = str(raised.value.orig)
    assert any(re.search(name, message, re.IGNORECASE) for name in names), message


@pytest.fixture
async def with_session(migrated: Database) -> Database:
    await _insert(migrated, "sessions", _session())
    return migrated


async def test_capacity_is_1_to_500(migrated: Database) -> None:
    await _refused(
        migrated, "sessions", _session(max_participants=501), "ck_sessions_capacity_range"
    )
    await _refused(migrated, "sessions", _session(max_participants=0), "ck_sessions_capacity_range")
    await _insert(migrated, "sessions", _session(id="s-500", max_participants=500))


async def test_enrolled_count_never_exceeds_capacity(migrated: Database) -> None:
    full = _session(max_participants=2, enrolled_count=3)
    await _refused(migrated, "sessions", full, "ck_sessions_seats_capped")
    await _insert(migrated, "sessions", _session(max_participants=2, enrolled_count=2))
    # Also on update, which is what the enrollment seat cap relies on.
    with pytest.raises(IntegrityError) as raised:
        async with migrated.engine.begin() as conn:
            await conn.execute(update(_t("sessions")).values(enrolled_count=3))
    assert "ck_sessions_seats_capped" in str(raised.value.orig)


async def test_status_and_type_are_checked(migrated: Database) -> None:
    await _refused(migrated, "sessions", _session(status="bogus"), "ck_sessions_status_valid")
    await _refused(
        migrated, "sessions", _session(session_type="party"), "ck_sessions_session_type_valid"
    )


async def test_schedule_window_and_price(migrated: Database) -> None:
    await _refused(migrated, "sessions", _session(scheduled_end=NOW), "ck_sessions_schedule_window")
    await _refused(migrated, "sessions", _session(price=-1), "ck_sessions_price_non_negative")


async def test_room_names_are_unique_per_tenant(with_session: Database) -> None:
    await _refused(
        with_session,
        "sessions",
        _session(id="s-2"),
        "uq_sessions_tenant_room_name",
        r"sessions\.tenant_id, sessions\.room_name",
    )
    await _insert(with_session, "sessions", _session(id="s-3", tenant_id="globex"))


async def test_one_active_enrollment_per_user(with_session: Database) -> None:
    await _insert(with_session, "enrollments", _enrollment())
    await _refused(
        with_session,
        "enrollments",
        _enrollment(id="e-2"),
        "uq_enrollments_one_active",
        r"enrollments\.session_id, enrollments\.user_id",
    )
    # Cancelled ones do not count: a cancelled and an active one side by side are fine.
    await _insert(
        with_session,
        "enrollments",
        _enrollment(id="e-3", status="cancelled", cancelled_at=NOW),
        _enrollment(id="e-4", user_id="u-2"),
        _enrollment(id="e-5", user_id="u-2", status="cancelled", cancelled_at=NOW),
    )
    await _refused(
        with_session, "enrollments", _enrollment(id="e-6", status="paused"), "ck_enrollments"
    )


async def test_chat_sequence_numbers_are_unique_per_session(with_session: Database) -> None:
    await _insert(with_session, "chat_messages", _message())
    await _refused(
        with_session,
        "chat_messages",
        _message(id="m-2"),
        "uq_chat_messages_session_seq",
        r"chat_messages\.session_id, chat_messages\.seq",
    )
    await _insert(with_session, "chat_messages", _message(id="m-3", seq=2))
    await _refused(
        with_session, "chat_messages", _message(id="m-4", seq=3, text=""), "text_not_empty"
    )


async def test_children_need_an_existing_session(migrated: Database) -> None:
    fk = ("fk_chat_messages_session_id_sessions", "FOREIGN KEY constraint failed")
    await _refused(migrated, "chat_messages", _message(session_id="missing"), *fk)
    fk = ("fk_enrollments_session_id_sessions", "FOREIGN KEY constraint failed")
    await _refused(migrated, "enrollments", _enrollment(session_id="missing"), *fk)


async def test_deleting_a_session_deletes_its_rows(with_session: Database) -> None:
    await _insert(with_session, "enrollments", _enrollment())
    await _insert(with_session, "chat_messages", _message())
    async with with_session.engine.begin() as conn:
        await conn.execute(_t("sessions").delete())
    async with with_session.engine.connect() as conn:
        for table in ("enrollments", "chat_messages"):
            rows = (await conn.execute(select(_t(table).c.id))).all()
            assert rows == [], table


async def test_feedback_rating_range_and_one_per_user(with_session: Database) -> None:
    row = {
        "id": "f-1",
        "session_id": "s-1",
        "tenant_id": "acme",
        "user_id": "u-1",
        "user_name": "Sam",
        "rating": 6,
        "created_at": NOW,
        "updated_at": NOW,
    }
    await _refused(with_session, "feedback", row, "ck_feedback_rating_range")
    await _insert(with_session, "feedback", {**row, "rating": 5})
    await _refused(
        with_session,
        "feedback",
        {**row, "id": "f-2", "rating": 1},
        "uq_feedback_session_user",
        r"feedback\.session_id, feedback\.user_id",
    )
