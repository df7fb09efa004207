"""What a bus is to its users: the hub, the media worker and server recordings.

Two implementations: :class:`rooms.bus.RoomBus` (Redis pub/sub, for every deployment with a
Redis server: one or many nodes) and :class:`rooms.local_bus.LocalBus` (in-process, for the
embedded single-node default). The composition root (``api/services.py``) picks one; callers
see only this interface, and the contract tests (tests/rooms/test_bus_contract.py) run against
both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from rooms.bus import BusEvent

__all__ = ["Bus"]


class Bus(Protocol):
    """Room, node and media-worker channels; at-most-once delivery, in publication order per
    publisher and channel."""

    def room_channel(self, session_id: str) -> str: ...

    def node_channel(self, node_id: str) -> str: ...

    def session_of(self, channel: str) -> str | None:
        """The session id of a room channel, None for any other channel."""
        ...

    async def publish(self, event: BusEvent) -> None:
        """To the room's channel (every node in the room)."""
        ...

    async def publish_to_node(self, node_id: str, event: BusEvent) -> None:
        """To one node (a message for a participant it holds)."""
        ...

    async def publish_to(self, channel: str, event: BusEvent) -> None:
        """To any channel (a media worker's, from ``MediaRegistry.worker_channel``)."""
        ...

    async def subscribe(self, *channels: str) -> None: ...

    async def unsubscribe(self, *channels: str) -> None: ...

    def events(self, poll_timeout: float = 1.0) -> AsyncIterator[tuple[str, BusEvent]]:
        """Every event on the subscribed channels, as ``(channel, event)``, until cancelled.

        Raises when the bus is subscribed to nothing, was closed or lost its connection: the
        caller backs off, closes, subscribes again and calls ``events`` anew.
        """
        ...

    async def close(self) -> None:
        """Drop every subscription; ``subscribe`` opens the bus again."""
        ...
