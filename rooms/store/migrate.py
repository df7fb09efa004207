"""Applying the Alembic migrations that ship inside the package.

``liveclass db upgrade`` calls :func:`upgrade_database`; ``liveclass serve`` calls it on start
for SQLite (an embedded database has nobody else to migrate it), and on any other database
first checks :func:`schema_problem` (a server on an unmigrated database would answer every
request 500).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

from rooms.store.engine import Database

__all__ = ["alembic_config", "schema_problem", "upgrade_database"]

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_database(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest). Safe to run repeatedly."""

    def _upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with database.engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def schema_problem(database: Database) -> str | None:
    """Why a server must not run on ``database`` as it is (its schema is not the one this
    release's migrations end at), or None. Database errors are the caller's."""

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.engine.connect() as conn:
        current = await conn.run_sync(_current)
    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_current_head()
    if current == head:
        return None
    if current is None:
        return (
            "the database has no liveclass schema yet: run `liveclass db upgrade` with the "
            "same LIVECLASS_DATABASE_URL first"
        )
    try:
        scripts.get_revision(current)
    except CommandError:
        return (
            f"the database's schema is at revision {current}, which this release does not "
            f"know (a newer liveclass migrated it); this release needs {head}"
        )
    return (
        f"the database's schema is at revision {current}, this release needs {head}: run "
        "`liveclass db upgrade` with the same LIVECLASS_DATABASE_URL first"
    )
