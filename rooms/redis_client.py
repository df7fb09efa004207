"""Connecting to Redis: a real server, a Redis Cluster, or an in-process fakeredis on the same
code path.

With ``cluster=True`` the client is a :class:`redis.asyncio.cluster.RedisCluster` (routing each
command to the shard owning its key). It is typed as :class:`Redis` so every caller keeps one
code path; liveclass only uses what both offer, under two rules that make it cluster-safe:

- every Lua script and every ``pipeline(transaction=True)`` touches keys of one hash slot (all
  keys of a room carry its ``{session_id}`` tag, all media-registry keys the ``{media}`` tag;
  tests/cluster/test_slots.py checks each one);
- pub/sub uses plain ``PUBLISH``/``SUBSCRIBE`` (see rooms/bus.py), which Redis Cluster
  forwards to every node, so one subscriber connection per process on any node hears it all.

Close clients with :func:`close_redis` (the two kinds close differently).
"""

from __future__ import annotations

from functools import cache
from typing import cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.driver_info import DriverInfo

from rooms.keys import database_channel_prefix
from rooms.redis_pipe import close_pipes

__all__ = ["channel_prefix", "close_redis", "connect_redis", "is_cluster"]

EMBEDDED_CONNECTIONS = 16


@cache
def _driver_info() -> DriverInfo:
    """What every connection tells Redis in ``CLIENT SETINFO`` (redis-py's name and version),
    built once: left to the pool, each new connection reads the installed package's metadata
    again (a couple of milliseconds each, and a join storm opens a hundred connections)."""
    return DriverInfo()


def channel_prefix(redis: Redis, prefix: str = "lc") -> str:
    """The prefix of liveclass's pub/sub channels on ``redis``.

    Redis shares pub/sub channels across its database numbers, so two deployments on one
    server (``redis://host/1`` and ``redis://host/2``) would hear each other's room, node
    and worker events. On database N > 0 the channels are ``lc:db<N>:...``; on database 0
    (and on a Redis Cluster, which has only database 0) they stay ``lc:...``.
    """
    pool = getattr(redis, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None) or {}
    db = int(kwargs.get("db") or 0)
    return database_channel_prefix(prefix, db)


def connect_redis(
    url: str | None, *, cluster: bool = False, max_connections: int = 200, timeout: float = 10.0
) -> Redis:
    """A client for ``url``, or for a private in-process fakeredis when ``url`` is None.

    ``cluster``: ``url`` names any node of a Redis Cluster (the others are discovered).

    The pool blocks (up to ``timeout`` seconds) when every connection is busy instead of
    raising: redis-py's default pool raises MaxConnectionsError, which turned 500-client join
    bursts into errors. RedisCluster has no blocking pool: its pool per shard node raises
    MaxConnectionsError past ``max_connections`` (a limit per shard, so it is reached only by
    more concurrent commands than one node of a single Redis would have served).
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
    if cluster:
        # A shard that fails over answers MOVED/connection errors for a few seconds: the
        # client refreshes its slot map and retries within cluster_error_retry_attempts.
        nodes = RedisCluster.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=timeout,
            socket_connect_timeout=min(timeout, 5.0),
        )
        return cast(Redis, nodes)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=timeout, driver_info=_driver_info()
    )
    return Redis(connection_pool=pool)


def is_cluster(client: Redis) -> bool:
    """Whether ``client`` came from ``connect_redis(..., cluster=True)``."""
    return isinstance(client, RedisCluster)


async def close_redis(client: Redis) -> None:
    """Close ``client`` and every connection it opened."""
    if isinstance(client, RedisCluster):
        await client.aclose()
    else:
        close_pipes(client)
        await client.aclose(close_connection_pool=True)
