"""Connecting to Redis: a real server, or an in-process fakeredis on the same code path."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

__all__ = ["connect_redis"]

EMBEDDED_CONNECTIONS = 16


def connect_redis(url: str | None, *, max_connections: int = 200, timeout: float = 10.0) -> Redis:
    """A client for ``url``, or for a private in-process fakeredis when ``url`` is None.

    The pool blocks (up to ``timeout`` seconds) when every connection is busy instead of
    raising: redis-py's default pool raises MaxConnectionsError, which turned 500-client join
    bursts into errors.
    """
    if url is None:
        from fakeredis import FakeAsyncRedis, FakeServer

        # The same blocking pool as for a real server: a join storm must queue, not fail.
        # fakeredis runs every command synchronously in this process, so more connections
        # add no concurrency, only set-up time and memory (about a millisecond each).
        client: Redis = FakeAsyncRedis(
            server=FakeServer(),
            decode_responses=False,
            connection_pool_class=BlockingConnectionPool,
            max_connections=min(max_connections, EMBEDDED_CONNECTIONS),
        )
        return client
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout)
    return Redis(connection_pool=pool)
