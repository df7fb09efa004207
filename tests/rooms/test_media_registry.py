"""Placing rooms on media workers: least loaded, sticky while alive, moved when dead.
Runs on fakeredis and on the real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio
from redis.asyncio import Redis

from rooms.media_registry import MediaRegistry
from tests.conftest import FakeClock


@pytest.fixture
def client(redis: Redis) -> Redis:
    """The shared ``redis`` fixture (tests/rooms/conftest.py): fakeredis, then real Redis."""
    return redis


async def test_no_worker_no_place(client: redis.asyncio.Redis) -> None:
    registry = MediaRegistry(client, clock=FakeClock())
    assert await registry.place("room-1") is None


async def test_rooms_go_to_the_least_loaded_worker_and_stay(
    client: redis.asyncio.Redis,
) -> None:
    registry = MediaRegistry(client, clock=FakeClock())
    await registry.heartbeat("w1")
    await registry.heartbeat("w2")
    placed = [await registry.place(f"room-{i}") for i in range(4)]
    assert sorted(placed) == ["w1", "w1", "w2", "w2"]  # type: ignore[type-var]
    assert await registry.place("room-0") == placed[0]
    assert await registry.worker_of("room-3") == placed[3]


async def test_a_dead_workers_rooms_move(client: redis.asyncio.Redis) -> None:
    clock = FakeClock()
    registry = MediaRegistry(client, ttl_seconds=10, clock=clock)
    await registry.heartbeat("w1")
    assert await registry.place("room-1") == "w1"
    clock.advance(5)
    await registry.heartbeat("w2")
    clock.advance(6)  # w1 last seen 11 s ago: dead
    await registry.heartbeat("w2")
    assert await registry.alive() == ["w2"]
    assert await registry.place("room-1") == "w2"


async def test_release_and_retire(client: redis.asyncio.Redis) -> None:
    registry = MediaRegistry(client, clock=FakeClock())
    await registry.heartbeat("w1")
    await registry.heartbeat("w2")
    assert await registry.place("a") == "w1"
    await registry.release("a")
    assert await registry.worker_of("a") is None
    assert await registry.place("b") == "w1"  # w1's load went back to 0
    await registry.retire("w1")
    assert await registry.place("c") == "w2"


async def test_concurrent_placement_balances(client: redis.asyncio.Redis) -> None:
    registry = MediaRegistry(client, clock=FakeClock())
    for w in ("w1", "w2", "w3"):
        await registry.heartbeat(w)
    placed = await asyncio.gather(*(registry.place(f"room-{i}") for i in range(30)))
    assert {w: placed.count(w) for w in ("w1", "w2", "w3")} == {"w1": 10, "w2": 10, "w3": 10}


async def test_a_big_room_spreads_over_workers_up_to_the_cap(client: redis.asyncio.Redis) -> None:
    registry = MediaRegistry(client, clock=FakeClock())
    for w in ("w1", "w2", "w3"):
        await registry.heartbeat(w)
    origin = await registry.place("big")
    assert origin == "w1"
    assigned = [await registry.assign("big", f"p{i}", cap=2) for i in range(6)]
    # the origin first, then relays, none above the cap
    assert assigned[:2] == ["w1", "w1"]
    assert sorted(assigned[2:]) == ["w2", "w2", "w3", "w3"]  # type: ignore[type-var]
    assert await registry.relays("big") == {"w2", "w3"}
    assert [await registry.subscribers_of(w) for w in ("w1", "w2", "w3")] == [2, 2, 2]
    # sticky; every worker full: a relay takes the overload (the least loaded), not the
    # origin, which carries the publishers
    assert await registry.assign("big", "p3", cap=2) == assigned[3]
    assert await registry.assign("big", "p6", cap=2) in ("w2", "w3")
    assert await registry.assign("big", "p8", cap=2) in ("w2", "w3")
    assert [await registry.subscribers_of(w) for w in ("w1", "w2", "w3")] == [2, 3, 3]
    # a leaver frees a place, which the next participant takes
    assert await registry.unassign("big", "p3") == assigned[3]
    assert await registry.unassign("big", "p3") is None
    assert await registry.assign("big", "p7", cap=2) == assigned[3]
    assert await registry.assignment("big", "p7") == assigned[3]
    # the room ends: every place is free again
    await registry.release("big")
    assert [await registry.subscribers_of(w) for w in ("w1", "w2", "w3")] == [0, 0, 0]
    assert await registry.relays("big") == set()
    assert await registry.assignment("big", "p0") is None


async def test_each_worker_carries_what_it_measured_it_can(client: redis.asyncio.Redis) -> None:
    registry = MediaRegistry(client, clock=FakeClock())
    await registry.heartbeat("w1")
    await registry.heartbeat("w2", capacity=1)  # w2 measured that it can take one more
    await registry.heartbeat("w3")
    assert await registry.place("class") == "w1"
    # the origin measured it carries 2 now, whatever the configured cap of 100 allows
    assigned = [
        await registry.assign("class", f"p{i}", cap=100, origin_capacity=2) for i in range(5)
    ]
    assert assigned[:2] == ["w1", "w1"]
    assert sorted(assigned[2:]) == ["w2", "w3", "w3"]  # type: ignore[type-var]
    assert await registry.subscribers_of("w2") == 1
    # a heartbeat without a figure: only the configured cap bounds the worker again
    await registry.heartbeat("w2")
    assert await registry.assign("class", "p5", cap=100, origin_capacity=2) == "w2"
    # a retired worker's figure goes with it
    await registry.retire("w3")
    assert await client.hget("lc:{media}:caps", "w3") is None


async def test_assignment_needs_a_live_origin_and_moves_off_dead_relays(
    client: redis.asyncio.Redis,
) -> None:
    clock = FakeClock()
    registry = MediaRegistry(client, ttl_seconds=10, clock=clock)
    assert await registry.assign("r", "p0", cap=1) is None  # not placed
    await registry.heartbeat("w1")
    await registry.heartbeat("w2")
    assert await registry.place("r") == "w1"
    assert await registry.assign("r", "p0", cap=1) == "w1"
    assert await registry.assign("r", "p1", cap=1) == "w2"
    clock.advance(11)
    await registry.heartbeat("w1")
    await registry.heartbeat("w3")  # w2 died
    assert await registry.assign("r", "p1", cap=1) == "w3"
    assert await registry.relays("r") == {"w3"}
    assert await registry.subscribers_of("w2") == 0


async def test_concurrent_assignment_never_exceeds_the_cap(client: redis.asyncio.Redis) -> None:
    registry = MediaRegistry(client, clock=FakeClock())
    for w in ("w1", "w2", "w3", "w4"):
        await registry.heartbeat(w)
    await registry.place("class")
    gate = asyncio.Semaphore(32)  # the embedded pool's size

    async def assign(i: int) -> str | None:
        async with gate:
            return await registry.assign("class", f"p{i}", cap=125)

    assigned = await asyncio.gather(*(assign(i) for i in range(500)))
    assert {w: assigned.count(w) for w in set(assigned)} == {
        "w1": 125,
        "w2": 125,
        "w3": 125,
        "w4": 125,
    }
