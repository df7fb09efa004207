"""Join storm: two nodes, 1,000 concurrent join attempts on a room of 500 seats.

While the storm runs, a separate Redis client samples the room's seat set as fast as it can,
on a thread of its own (on the test's event loop it took turns with a thousand clients' tasks,
and a starved CI run got only 9 samples in):
no sample may ever hold more than 500 seat-takers, and exactly 500 are seated at the end
(the others refused with 4009). Clients told to try again (1013, the machine is overloaded)
do so, as real clients would; the count must still come out exact.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
import redis

from rooms.keys import RoomKeys
from rooms.model import RoomRole
from rooms.tokens import RoomGrant, RoomTokens
from tests.conftest import SECRET_KEY
from tests.integration.cluster import Node
from tests.integration.test_two_nodes import live_session
from tests.reliability.clients import Client, close_all

CAPACITY = 500
ATTEMPTS = 1000


@pytest.fixture
def node_env() -> dict[str, str]:
    return {"LIVECLASS_LOG_LEVEL": "WARNING"}


async def storm(
    nodes: tuple[Node, Node], redis_url: str, capacity: int, attempts: int
) -> tuple[int, int, int, list[int]]:
    """Run one storm; ``(admitted, max sampled seats, samples, refusal codes)``."""
    a, b = nodes
    async with httpx.AsyncClient(timeout=60) as http:
        sid = await live_session(http, a, capacity)
    tokens = RoomTokens(SECRET_KEY, ttl_seconds=3600)
    seats_key = RoomKeys(sid).seats
    done = threading.Event()
    samples: list[int] = []

    def sample() -> None:
        with redis.Redis.from_url(redis_url) as sampler:
            while not done.is_set():
                samples.append(int(sampler.scard(seats_key)))

    admitted: list[Client] = []
    refused: list[int] = []

    async def attempt(i: int) -> None:
        grant = RoomGrant.for_role(
            session_id=sid, tenant="acme", user_id=f"storm-{i}", name=f"S{i}", role=RoomRole.GUEST
        )
        node = a if i % 2 else b
        for _ in range(20):
            client = await Client.connect(f"{node.ws}?token={tokens.mint(grant)[0]}", f"s{i}")
            await client.until(lambda c: c.of("welcome") or c.close_code, within=120)
            if client.of("welcome"):
                admitted.append(client)
                return
            code = await client.closed()
            await client.close()
            if code != 1013:
                refused.append(code)
                return
        refused.append(1013)

    sampler = threading.Thread(target=sample, name="seat-sampler")
    sampler.start()
    try:
        await asyncio.gather(*(attempt(i) for i in range(attempts)))
        done.set()
        await asyncio.to_thread(sampler.join)
        with redis.Redis.from_url(redis_url) as check:
            final = int(check.scard(seats_key))
        assert final == len(admitted)
        return len(admitted), max(samples), len(samples), refused
    finally:
        done.set()
        await asyncio.to_thread(sampler.join)
        await close_all(admitted)


async def test_join_storm_never_exceeds_capacity(
    two_nodes: tuple[Node, Node], redis_ready: str
) -> None:
    admitted, peak, samples, refused = await storm(two_nodes, redis_ready, CAPACITY, ATTEMPTS)
    print(
        f"join storm: {admitted} admitted, {len(refused)} refused, peak {peak}, {samples} samples"
    )
    assert admitted == CAPACITY
    assert refused == [4009] * (ATTEMPTS - CAPACITY)
    assert peak <= CAPACITY
    assert samples >= 10
