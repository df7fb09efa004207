"""The real services the suite runs against: PostgreSQL and Redis on 127.0.0.1.

Their absence is a failure, never a skip: ``make test`` (scripts/ensure-services.sh) starts or
installs them, and CI runs that. Each xdist worker gets its own PostgreSQL database and its own
Redis database number, so workers never see each other's data.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg
import redis

PG_ADMIN_URL = os.environ.get(
    "LIVECLASS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_BASE_URL = os.environ.get("LIVECLASS_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker.startswith("gw") else 0


# Two suites running at once on one machine (say, two checkouts) keep apart by setting
# LIVECLASS_TEST_NAMESPACE and LIVECLASS_TEST_REDIS_DB to different values.
NAMESPACE = os.environ.get("LIVECLASS_TEST_NAMESPACE", "main")
REDIS_DB_BASE = int(os.environ.get("LIVECLASS_TEST_REDIS_DB", "1"))


def redis_url() -> str:
    return f"{REDIS_BASE_URL}/{(REDIS_DB_BASE + worker_index()) % 16}"


def postgres_database() -> str:
    return f"liveclass_test_{NAMESPACE}_{worker_index()}"


def postgres_url(name: str | None = None) -> str:
    """The URL of database ``name`` (default: this worker's test database)."""
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name or postgres_database()}"


class ServiceMissing(RuntimeError):
    pass


def check_redis() -> None:
    try:
        client = redis.Redis.from_url(redis_url(), socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        raise ServiceMissing(
            f"Redis is not reachable at {REDIS_BASE_URL} ({exc}); run scripts/ensure-services.sh"
        ) from exc


def recreate_postgres_database(name: str | None = None) -> str:
    """Drop and create ``name`` (default: this worker's test database), empty; its URL."""
    name = name or postgres_database()

    async def run() -> None:
        try:
            conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            raise ServiceMissing(
                f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); "
                "run scripts/ensure-services.sh"
            ) from exc
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())
    return postgres_url(name)
