"""Per-room sequence numbers: monotonic, shared by every caller, and never repeated when the
counter was lost (a Redis restart, or a restart of the embedded process: it is re-seeded from the
store's highest number). :class:`LocalSequence` (in process), and :class:`SequenceAllocator` on
fakeredis and on real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from rooms.keys import RoomKeys
from rooms.local_room_state import LocalRoomState, LocalSequence
from rooms.sequence import RoomSequence, SequenceAllocator


@dataclass
class Backend:
    """Where the counters live: ``local`` (one :class:`LocalRoomState`) or a Redis client."""

    kind: str
    redis: Redis
    state: LocalRoomState = field(default_factory=LocalRoomState)

    def allocator(self, prefix: str = "lc") -> RoomSequence:
        """One node's allocator (``local``: the process's; there is one node)."""
        if self.kind == "local":
            return LocalSequence(self.state)
        return SequenceAllocator(self.redis, prefix=prefix)

    async def lose(self, session_id: str) -> None:
        """Lose the room's counter: Redis restarted (or evicted the key), or the embedded
        process restarted with an empty memory."""
        if self.kind == "local":
            self.state = LocalRoomState()
        else:
            await self.redis.delete(RoomKeys(session_id).seq)


@pytest.fixture
def backend(contract_backend: tuple[str, Redis]) -> Backend:
    return Backend(*contract_backend)


@pytest.fixture
def new_allocator(backend: Backend) -> Callable[[], RoomSequence]:
    return backend.allocator


class Store:
    """Stands in for the chat table: remembers the highest number written, counts reads."""

    def __init__(self, highest: int = 0) -> None:
        self.highest = highest
        self.reads = 0

    async def floor(self) -> int:
        self.reads += 1
        return self.highest


async def test_numbers_start_after_the_floor_and_increase(
    new_allocator: Callable[[], RoomSequence],
) -> None:
    allocator = new_allocator()
    store = Store()
    assert [await allocator.next("s-1", store.floor) for _ in range(5)] == [1, 2, 3, 4, 5]
    # The store is read only to seed the counter.
    assert store.reads == 1


async def test_rooms_count_separately(new_allocator: Callable[[], RoomSequence]) -> None:
    allocator = new_allocator()
    store = Store()
    assert await allocator.next("s-1", store.floor) == 1
    assert await allocator.next("s-1", store.floor) == 2
    assert await allocator.next("s-2", store.floor) == 1
    assert await allocator.next("s-1", store.floor) == 3


async def test_a_lost_counter_is_reseeded_from_the_store(backend: Backend) -> None:
    allocator = backend.allocator()
    store = Store()
    for _ in range(3):
        store.highest = await allocator.next("s-1", store.floor)
    assert store.highest == 3
    await backend.lose("s-1")
    allocator = backend.allocator()
    assert await allocator.current("s-1") == 0
    assert await allocator.next("s-1", store.floor) == 4
    assert store.reads == 2


async def test_an_existing_room_starts_after_its_stored_messages(
    new_allocator: Callable[[], RoomSequence],
) -> None:
    store = Store(highest=41)
    assert await new_allocator().next("s-1", store.floor) == 42


async def test_raise_to_puts_numbers_seen_elsewhere_back(backend: Backend) -> None:
    """After the counter was lost, a node that delivered numbers above the store's highest
    raises the counter past them; raising never lowers it."""
    allocator = backend.allocator()
    store = Store(highest=5)
    assert await allocator.next("s-1", store.floor) == 6
    await backend.lose("s-1")
    allocator = backend.allocator()
    await allocator.raise_to("s-1", 9)
    assert await allocator.current("s-1") == 9
    await allocator.raise_to("s-1", 3)
    assert await allocator.next("s-1", store.floor) == 10
    assert await allocator.current("s-1") == 10


async def test_allocators_share_the_counter(new_allocator: Callable[[], RoomSequence]) -> None:
    """Two nodes on one Redis (or two components of the embedded process): one sequence."""
    node_a, node_b = new_allocator(), new_allocator()
    store = Store()
    values = [
        await node.next("s-1", store.floor) for node in (node_a, node_b, node_a, node_b, node_b)
    ]
    assert values == [1, 2, 3, 4, 5]


async def test_prefixes_keep_deployments_apart(redis: Redis) -> None:
    """Redis only: deployments sharing a server (the embedded process is one deployment)."""
    store = Store()
    first, second = SequenceAllocator(redis, prefix="a"), SequenceAllocator(redis, prefix="b")
    assert await first.next("s-1", store.floor) == 1
    assert await first.next("s-1", store.floor) == 2
    assert await second.next("s-1", store.floor) == 1
    assert await redis.exists(RoomKeys("s-1", "a").seq, RoomKeys("s-1", "b").seq) == 2


async def test_concurrent_allocations_are_distinct(
    new_allocator: Callable[[], RoomSequence],
) -> None:
    allocator = new_allocator()
    store = Store()
    values = await asyncio.gather(*(allocator.next("s-1", store.floor) for _ in range(50)))
    assert sorted(values) == list(range(1, 51))


async def test_concurrent_reseeding_never_repeats(
    new_allocator: Callable[[], RoomSequence],
) -> None:
    """Many callers find the counter missing at once; each seeds with the same floor, and the
    numbers still come out distinct and above it."""
    allocator = new_allocator()
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


async def test_a_room_that_begins_counts_from_one_without_the_store(
    new_allocator: Callable[[], RoomSequence],
) -> None:
    allocator, store = new_allocator(), Store(highest=7)
    await allocator.begin("s-1")
    assert await allocator.current("s-1") == 0
    assert [await allocator.next("s-1", store.floor) for _ in range(2)] == [1, 2]
    assert store.reads == 0
    await allocator.begin("s-1")  # a counter that exists is kept
    assert await allocator.next("s-1", store.floor) == 3
