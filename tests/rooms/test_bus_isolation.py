"""Pub/sub channels are shared by every database of a Redis server: deployments on different
database numbers must not hear each other (rooms.redis_client.channel_prefix)."""

from __future__ import annotations

import asyncio

from rooms.bus import RoomBus
from rooms.bus_events import BusEvent, RoomMessage
from rooms.media_registry import MediaRegistry
from rooms.redis_client import channel_prefix, close_redis, connect_redis
from tests.services import REDIS_BASE_URL, check_redis


async def _first(bus: RoomBus) -> BusEvent:
    async with asyncio.timeout(15):
        async for _channel, event in bus.events(poll_timeout=0.1):
            return event
    raise AssertionError("unreachable")


async def test_deployments_on_two_databases_do_not_hear_each_other() -> None:
    check_redis()
    one, two = connect_redis(f"{REDIS_BASE_URL}/14"), connect_redis(f"{REDIS_BASE_URL}/15")
    try:
        bus_one, bus_two = RoomBus(one), RoomBus(two)
        # same room id, same node id in both deployments
        assert bus_one.room_channel("r") != bus_two.room_channel("r")
        assert bus_one.node_channel("node-a") != bus_two.node_channel("node-a")
        assert MediaRegistry(one).worker_channel("w") != MediaRegistry(two).worker_channel("w")
        await bus_two.subscribe(bus_two.room_channel("r"))
        await bus_one.subscribe(bus_one.room_channel("r"))
        await bus_one.publish(RoomMessage("r", {"text": "one"}, "node-a"))
        assert (await _first(bus_one)) == RoomMessage("r", {"text": "one"}, "node-a")
        # database 1's event reached its subscriber; database 2's hears only its own
        await bus_two.publish(RoomMessage("r", {"text": "two"}, "node-a"))
        assert (await _first(bus_two)) == RoomMessage("r", {"text": "two"}, "node-a")
        assert bus_one.session_of(bus_one.room_channel("r")) == "r"
    finally:
        await close_redis(one)
        await close_redis(two)


def test_database_zero_and_fakeredis_keep_the_plain_prefix() -> None:
    assert channel_prefix(connect_redis(None)) == "lc"
    assert channel_prefix(connect_redis(f"{REDIS_BASE_URL}/0")) == "lc"
    assert channel_prefix(connect_redis(f"{REDIS_BASE_URL}/3")) == "lc:db3"
