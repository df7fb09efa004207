"""Fixtures the room-domain tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from rooms.redis_client import connect_redis
from tests import services as svc


@pytest.fixture(params=["fakeredis", "redis"])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[Redis]:
    """A Redis client, once on fakeredis and once on this worker's real database (flushed)."""
    if request.param == "fakeredis":
        client = connect_redis(None)
    else:
        svc.check_redis()
        client = connect_redis(svc.redis_url())
        await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose(close_connection_pool=True)
