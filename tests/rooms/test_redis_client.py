"""The Redis client every process uses."""

from __future__ import annotations

import redis

from rooms.redis_client import close_redis, connect_redis


async def test_connections_share_driver_info_built_once() -> None:
    """New connections of a pool (a join storm opens many) reuse one DriverInfo instead of
    reading the redis package's metadata again each, and still announce redis-py's version."""
    first = connect_redis("redis://127.0.0.1:6379/4")
    second = connect_redis("redis://127.0.0.1:6379/4")
    try:
        info = first.connection_pool.connection_kwargs["driver_info"]
        assert info is second.connection_pool.connection_kwargs["driver_info"]
        assert info.formatted_name == "redis-py"
        assert info.lib_version == redis.__version__
        # Connections made by the pool carry it (no server needed: nothing is sent).
        connection = first.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        assert connection.driver_info is info
    finally:
        await close_redis(first)
        await close_redis(second)
