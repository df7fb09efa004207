"""Fixtures the room-domain tests share."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from rooms.redis_client import close_redis, connect_redis
from tests import services as svc


@contextlib.asynccontextmanager
async def _client(kind: str) -> AsyncIterator[Redis]:
    """In-process fakeredis (``local``, ``fakeredis``) or this worker's real database, flushed
    (``redis``); closed afterwards."""
    if kind == "redis":
        svc.check_redis()
        client = connect_redis(svc.redis_url())
        await client.flushdb()
    else:
        client = connect_redis(None)
    try:
        yield client
    finally:
        await close_redis(client)


@pytest.fixture(params=["fakeredis", "redis"])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[Redis]:
    """A Redis client, once on fakeredis and once on this worker's real database (flushed)."""
    async with _client(request.param) as client:
        yield client


@pytest.fixture(params=["local", "fakeredis", "redis"])
async def contract_backend(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[str, Redis]]:
    """For contract tests run against both implementations of a part: ``local`` is the
    embedded default's in-process one (its client, fakeredis, holds what it does not), the
    others the Redis one on fakeredis and on this worker's real database. Yields the kind
    and the client; a test narrows it with ``parametrize("contract_backend", [...],
    indirect=True)``. (Not named ``backend``: that is the root conftest's embedded/services
    switch, which ``database_url`` reads.)"""
    async with _client(request.param) as client:
        yield request.param, client
