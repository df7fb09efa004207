"""The durable store: SQLAlchemy 2 async over SQLite (embedded default) or PostgreSQL."""

from rooms.store.engine import Database, create_database
from rooms.store.migrate import upgrade_database

__all__ = ["Database", "create_database", "upgrade_database"]
