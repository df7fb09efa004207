"""Applying the Alembic migrations that ship inside the package.

``liveclass db upgrade`` calls :func:`upgrade_database`; ``liveclass serve`` calls it on start
for SQLite (an embedded database has nobody else to migrate it).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from rooms.store.engine import Database

__all__ = ["alembic_config", "upgrade_database"]

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
