"""A pooled transaction gives up on a PostgreSQL that stops answering (``statement_timeout``
of :func:`rooms.store.create_database`): the request fails as "database unavailable" (a 503)
within the bound instead of hanging for as long as the TCP connection stays open, and the
pool's next transaction gets a working connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import literal, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from rooms.store import Database, create_database
from rooms.store.availability import database_unavailable
from tests.rooms.cutting_proxy import CuttingProxy

TIMEOUT = 1.0

pytestmark = pytest.mark.services


@pytest.fixture
async def through_proxy(postgres_ready: str) -> AsyncIterator[tuple[Database, CuttingProxy]]:
    url = make_url(postgres_ready)
    proxy = CuttingProxy(url.host or "127.0.0.1", url.port or 5432)
    port = await proxy.start()
    database = create_database(
        url.set(host="127.0.0.1", port=port).render_as_string(False),
        pool_size=1,
        statement_timeout=TIMEOUT,
    )
    try:
        yield database, proxy
    finally:
        await database.dispose()
        await proxy.close()


async def _select(database: Database, value: int) -> int:
    async with database.transaction() as tx:
        return int(await tx.scalar(select(literal(value))) or 0)


@pytest.mark.parametrize("cut", ["reply", "request"])
async def test_a_silent_database_fails_a_transaction_within_the_timeout(
    through_proxy: tuple[Database, CuttingProxy], cut: str
) -> None:
    database, proxy = through_proxy
    assert await _select(database, 1) == 1  # connected, then back in the pool
    proxy.armed, proxy.stall = cut, True  # its next message (or the answer) goes nowhere
    started = time.monotonic()
    with pytest.raises((TimeoutError, DBAPIError)) as caught:
        async with asyncio.timeout(30):  # without the timeout: here, not in the pool
            await _select(database, 2)
    assert database_unavailable(caught.value), repr(caught.value)
    # The check-out's ping, the statement and the rollback may each wait once (~3 s); a
    # pool without the timeout waits here until the 30 s bound above.
    assert time.monotonic() - started < 15
    assert proxy.cuts == 1
    async with asyncio.timeout(30):
        assert await _select(database, 3) == 3  # a new connection, not the silent one


async def test_the_timeout_reaches_the_driver(postgres_ready: str) -> None:
    database = create_database(postgres_ready, statement_timeout=7.5)
    try:
        async with database.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            assert driver._config.command_timeout == 7.5
    finally:
        await database.dispose()
