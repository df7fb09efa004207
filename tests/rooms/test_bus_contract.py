"""The bus contract (rooms/bus_port.py), run against every implementation: the in-process
:class:`LocalBus` (the embedded default), :class:`RoomBus` on fakeredis and on a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from api.services import bus_factory
from api.settings import Settings
from rooms.bus import RoomBus
from rooms.bus_events import BusEvent, Direct, MediaSignal, RoomEndedEvent, RoomMessage
from rooms.bus_port import Bus
from rooms.local_bus import LocalBroker, LocalBus
from rooms.redis_client import close_redis, connect_redis
from tests import services as svc

#: Makes buses on one transport: they hear each other.
BusMaker = Callable[[], Bus]


@pytest.fixture(params=["local", "fakeredis", "redis"])
async def new_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusMaker]:
    made: list[Bus] = []
    if request.param == "local":
        broker = LocalBroker()

        def make() -> Bus:
            made.append(LocalBus(broker))
            return made[-1]

        yield make
        for bus in made:
            await bus.close()
        return
    if request.param == "fakeredis":
        redis = connect_redis(None)
    else:
        svc.check_redis()
        redis = connect_redis(svc.redis_url())

    def make_redis() -> Bus:
        made.append(RoomBus(redis))
        return made[-1]

    try:
        yield make_redis
    finally:
        for bus in made:
            await bus.close()
        await close_redis(redis)


async def take(bus: Bus, count: int) -> list[tuple[str, BusEvent]]:
    """The next ``count`` events of ``bus``."""
    out: list[tuple[str, BusEvent]] = []
    async with asyncio.timeout(10):
        async for item in bus.events(poll_timeout=0.05):
            out.append(item)
            if len(out) == count:
                return out
    raise AssertionError("unreachable")


async def test_room_events_reach_every_subscriber_in_order_with_every_field(
    new_bus: BusMaker,
) -> None:
    publisher, one, two = new_bus(), new_bus(), new_bus()
    channel = one.room_channel("room-1")
    await one.subscribe(channel)
    await two.subscribe(channel)
    full = RoomMessage(
        "room-1",
        {"type": "chat", "seq": 1, "text": "héllo", "list": [1, 2]},
        origin="node-a",
        audience="hosts",
        exclude="p2",
        sent_at=1.5,
    )
    await publisher.publish(full)
    for i in range(2, 6):
        await publisher.publish(RoomMessage("room-1", {"type": "x", "i": i}, "node-a"))
    for bus in (one, two):
        events = await take(bus, 5)
        assert {c for c, _ in events} == {channel}
        assert events[0][1] == full
        assert [e.message["i"] for _, e in events[1:] if isinstance(e, RoomMessage)] == [2, 3, 4, 5]
    assert one.session_of(channel) == "room-1"
    assert one.session_of(one.node_channel("node-a")) is None


async def test_each_subscriber_gets_its_own_copy(new_bus: BusMaker) -> None:
    publisher, one, two = new_bus(), new_bus(), new_bus()
    channel = one.room_channel("r")
    await one.subscribe(channel)
    await two.subscribe(channel)
    sent = RoomMessage("r", {"type": "chat", "text": "x"}, "n")
    await publisher.publish(sent)
    (_, first), (_, second) = await take(one, 1) + await take(two, 1)
    assert isinstance(first, RoomMessage)
    assert isinstance(second, RoomMessage)
    first.message["text"] = "changed"
    assert second.message["text"] == "x"
    assert sent.message == {"type": "chat", "text": "x"}


async def test_node_and_worker_channels_reach_only_their_subscriber(new_bus: BusMaker) -> None:
    publisher, node_a, worker = new_bus(), new_bus(), new_bus()
    worker_channel = "lc:media:{w1}"
    await node_a.subscribe(node_a.node_channel("node-a"))
    await worker.subscribe(worker_channel)
    await publisher.publish_to_node("node-b", Direct("r", {"type": "x"}, "nobody", "x"))
    await publisher.publish_to_node("node-a", Direct("r", {"type": "x"}, "p1", "x"))
    await publisher.publish_to(worker_channel, MediaSignal("r", "p1", "offer", "x"))
    await publisher.publish(RoomMessage("r", {"type": "x"}, "x"))  # nobody hears the room
    ((channel, event),) = await take(node_a, 1)
    assert channel == node_a.node_channel("node-a")
    assert isinstance(event, Direct)
    assert event.to == "p1"
    ((channel, event),) = await take(worker, 1)
    assert channel == worker_channel
    assert isinstance(event, MediaSignal)


async def test_unsubscribed_channels_are_not_heard(new_bus: BusMaker) -> None:
    publisher, bus = new_bus(), new_bus()
    await bus.subscribe(bus.room_channel("a"), bus.room_channel("b"))
    await bus.unsubscribe(bus.room_channel("a"))
    await publisher.publish(RoomMessage("a", {"type": "x", "room": "a"}, "n"))
    await publisher.publish(RoomMessage("b", {"type": "x", "room": "b"}, "n"))
    ((_, event),) = await take(bus, 1)
    assert isinstance(event, RoomMessage)
    assert event.message == {"type": "x", "room": "b"}


async def test_a_bus_subscribed_to_nothing_raises_and_opens_again(new_bus: BusMaker) -> None:
    publisher, bus = new_bus(), new_bus()
    channel = bus.room_channel("r")
    await bus.subscribe(channel)
    await bus.close()
    with pytest.raises(Exception):  # noqa: B017, PT011 - each transport has its own error
        await take(bus, 1)
    await bus.subscribe(channel)
    await publisher.publish(RoomEndedEvent("r", "ended", "n"))
    ((_, event),) = await take(bus, 1)
    assert isinstance(event, RoomEndedEvent)


async def test_closing_wakes_a_waiting_reader_of_the_local_bus() -> None:
    bus = LocalBus(LocalBroker())
    await bus.subscribe(bus.room_channel("r"))
    reader = asyncio.ensure_future(take(bus, 1))
    await asyncio.sleep(0)  # the reader waits for an event
    await bus.close()
    with pytest.raises(ConnectionError):
        await reader


async def test_buses_on_two_brokers_do_not_hear_each_other() -> None:
    one, two = LocalBus(LocalBroker()), LocalBus(LocalBroker())
    await one.subscribe(one.room_channel("r"))
    await two.subscribe(two.room_channel("r"))
    await two.publish(RoomMessage("r", {"type": "x", "from": "two"}, "n"))
    await one.publish(RoomMessage("r", {"type": "x", "from": "one"}, "n"))
    ((_, event),) = await take(one, 1)
    assert isinstance(event, RoomMessage)
    assert event.message["from"] == "one"


async def test_the_embedded_default_runs_on_the_in_process_bus(
    settings: Settings, backend: str
) -> None:
    """The composition root's choice: in-process on SQLite + fakeredis (one node), Redis
    pub/sub whenever there is a Redis server (one or many nodes)."""
    redis = connect_redis(settings.redis_url)
    try:
        new_bus = bus_factory(settings, redis)
        first, second = new_bus(), new_bus()
        expected = LocalBus if backend == "embedded" else RoomBus
        assert isinstance(first, expected)
        await second.subscribe(second.room_channel("r"))
        await first.publish(RoomMessage("r", {"type": "x"}, "n"))
        ((_, event),) = await take(second, 1)
        assert isinstance(event, RoomMessage)
    finally:
        await close_redis(redis)
