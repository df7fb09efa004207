"""Per-room sequence numbers: monotonic, shared by every caller, and never repeated when Redis
lost the counter (it is re-seeded from the store's highest number). Fakeredis and real Redis."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from rooms.keys import RoomKeys
from rooms.sequence import SequenceAllocator


class Store:
    """Stands in for the chat table: remembers the highest number written, counts reads."""

    def __init__(self, highest: int = 0) -> None:
        self.highest = highest
        self.reads = 0

    async def floor(self) -> int:
        self.reads += 1
        return self.highest


async def test_numbers_start_after_the_floor_and_increase(redis: Redis) -> None:
    allocator = SequenceAllocator(redis)
    store = Store()
    assert [await allocator.next("s-1", store.floor) for _ in range(5)] == [1, 2, 3, 4, 5]
    # The store is read only to seed the counter.
    assert store.reads == 1


async def test_rooms_count_separately(redis: Redis) -> None:
    allocator = SequenceAllocator(redis)
    store = Store()
    assert await allocator.next("s-1", store.floor) == 1
    assert await allocator.next("s-1", store.floor) == 2
    assert await allocator.next("s-2", store.floor) == 1
    assert await allocator.next("s-1", store.floor) == 3


async def test_a_lost_counter_is_reseeded_from_the_store(redis: Redis) -> None:
    allocator = SequenceAllocator(redis)
    store = Store()
    for _ in range(3):
        store.highest = await allocator.next("s-1", store.floor)
    assert store.highest == 3
    await redis.delete(RoomKeys("s-1").seq)  # Redis restarted, or the key was evicted
    assert await allocator.next("s-1", store.floor) == 4
    assert store.reads == 2


async def test_an_existing_room_starts_after_its_stored_messages(redis: Redis) -> None:
    store = Store(highest=41)
    assert await SequenceAllocator(redis).next("s-1", store.floor) == 42


async def test_allocators_share_the_counter(redis: Redis) -> None:
    """Two nodes, one Redis: one sequence."""
    node_a, node_b = SequenceAllocator(redis), SequenceAllocator(redis)
    store = Store()
    values = [
        await node.next("s-1", store.floor) for node in (node_a, node_b, node_a, node_b, node_b)
    ]
    assert values == [1, 2, 3, 4, 5]


async def test_prefixes_keep_deployments_apart(redis: Redis) -> None:
    store = Store()
    first, second = SequenceAllocator(redis, prefix="a"), SequenceAllocator(redis, prefix="b")
    assert await first.next("s-1", store.floor) == 1
    assert await first.next("s-1", store.floor) == 2
    assert await second.next("s-1", store.floor) == 1
    assert await redis.exists(RoomKeys("s-1", "a").seq, RoomKeys("s-1", "b").seq) == 2


async def test_concurrent_allocations_are_distinct(redis: Redis) -> None:
    allocator = SequenceAllocator(redis)
    store = Store()
    values = await asyncio.gather(*(allocator.next("s-1", store.floor) for _ in range(50)))
    assert sorted(values) == list(range(1, 51))


async def test_concurrent_reseeding_never_repeats(redis: Redis) -> None:
    """Many callers find the counter missing at once; each seeds with the same floor, and the
    numbers still come out distinct and above it."""
    allocator = SequenceAllocator(redis)
    store = Store(highest=100)
    callers = 20
    everyone_missed = asyncio.Event()

    async def floor_after_everyone_missed() -> int:
        # Hold each caller until all of them found the counter missing: the worst case.
        value = await store.floor()
        if store.reads == callers:
            everyone_missed.set()
        await everyone_missed.wait()
        return value

    async with asyncio.timeout(10):
        values = await asyncio.gather(
            *(allocator.next("s-1", floor_after_everyone_missed) for _ in range(callers))
        )
    assert store.reads == callers
    assert sorted(values) == list(range(101, 101 + callers))
