"""The in-process bus of the embedded single-node default (no Redis server).

Same interface and semantics as :class:`rooms.bus.RoomBus` (:class:`rooms.bus_port.Bus`):
channels named by ``rooms/keys.py``, at-most-once delivery in publication order, every
subscriber gets its own decoded copy of each event (the bytes are the same MessagePack the
Redis bus carries). What it saves is the round trip through fakeredis: a publication there is
a command parsed, a RESP reply built and parsed again per subscriber, on the same event loop.

Every bus of one process that must hear the others (the hub, the in-process media worker,
server recordings) is made on one :class:`LocalBroker`; buses on different brokers never hear
each other, as deployments on different Redis servers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator

import msgpack

from rooms.bus_channels import ChannelBus
from rooms.bus_codec import decode, encode
from rooms.bus_events import BusEvent
from rooms.keys import Channels

__all__ = ["BusClosed", "LocalBroker", "LocalBus"]

log = logging.getLogger("liveclass.bus")


class BusClosed(ConnectionError):
    """The bus is subscribed to nothing, or was closed: subscribe again."""


class LocalBroker:
    """The channels of one process: which buses are subscribed to each."""

    def __init__(self) -> None:
        # A dict as an ordered set: subscribers hear a publication in subscription order.
        self._subscribers: dict[str, dict[LocalBus, None]] = {}

    def add(self, channel: str, bus: LocalBus) -> None:
        self._subscribers.setdefault(channel, {})[bus] = None

    def remove(self, channel: str, bus: LocalBus) -> None:
        subscribers = self._subscribers.get(channel)
        if subscribers is not None:
            subscribers.pop(bus, None)
            if not subscribers:
                del self._subscribers[channel]

    def deliver(self, channel: str, payload: bytes) -> int:
        """Queue ``payload`` for every bus subscribed to ``channel``; how many there were."""
        subscribers = self._subscribers.get(channel)
        if not subscribers:
            return 0
        for bus in subscribers:
            bus.receive(channel, payload)
        return len(subscribers)


class LocalBus(ChannelBus):
    """One subscriber's (and publisher's) view of a :class:`LocalBroker`."""

    def __init__(self, broker: LocalBroker, *, prefix: str = "lc") -> None:
        self._broker = broker
        self._channels = Channels(prefix)
        self._subscribed: set[str] = set()
        self._queue: deque[tuple[str, bytes]] = deque()
        self._ready = asyncio.Event()

    async def publish_to(self, channel: str, event: BusEvent) -> None:
        """To any channel (a media worker's, from ``MediaRegistry.worker_channel``)."""
        self._broker.deliver(channel, encode(event))

    async def subscribe(self, *channels: str) -> None:
        for channel in channels:
            if channel not in self._subscribed:
                self._subscribed.add(channel)
                self._broker.add(channel, self)

    async def unsubscribe(self, *channels: str) -> None:
        for channel in channels:
            if channel in self._subscribed:
                self._subscribed.discard(channel)
                self._broker.remove(channel, self)
        if not self._subscribed:
            self._ready.set()  # a waiting events() raises BusClosed

    def receive(self, channel: str, payload: bytes) -> None:
        """Called by the broker: one publication on a subscribed channel."""
        self._queue.append((channel, payload))
        self._ready.set()

    async def events(self, poll_timeout: float = 1.0) -> AsyncIterator[tuple[str, BusEvent]]:
        """Every event on the subscribed channels, as ``(channel, event)``, until cancelled.

        Raises :class:`BusClosed` when the bus is subscribed to nothing (never subscribed,
        unsubscribed from everything, closed). ``poll_timeout`` is accepted for the interface
        and unused: a publication or a closing wakes the reader.
        """
        queue = self._queue
        while True:
            if not self._subscribed:
                raise BusClosed("the bus is not subscribed to anything")
            if not queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            channel, payload = queue.popleft()
            try:
                event = decode(payload)
            except (ValueError, KeyError, TypeError, msgpack.UnpackException):
                log.warning("dropped an undecodable bus event on %s", channel)
                continue
            if event is not None:  # None: a kind this version does not know
                yield channel, event

    async def close(self) -> None:
        """Drop every subscription and every event not read yet."""
        await self.unsubscribe(*self._subscribed)
        self._queue.clear()
