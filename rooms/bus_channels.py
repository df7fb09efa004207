"""What both buses (rooms/bus.py over Redis, rooms/local_bus.py in process) do the same way:
name the channels, and publish to a room or a node through the one ``publish_to`` each
implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from rooms.bus_events import BusEvent
from rooms.keys import Channels

__all__ = ["ChannelBus"]


class ChannelBus(ABC):
    """A bus's channel names (:class:`rooms.keys.Channels`) and its room and node publishing;
    a subclass sets ``_channels`` and implements :meth:`publish_to`."""

    _channels: Channels

    def room_channel(self, session_id: str) -> str:
        return self._channels.room(session_id)

    def node_channel(self, node_id: str) -> str:
        return self._channels.node(node_id)

    def session_of(self, channel: str) -> str | None:
        """The session id of a room channel, None for a node channel."""
        return self._channels.session_of(channel)

    async def publish(self, event: BusEvent) -> None:
        """To the room's channel (every node in the room)."""
        await self.publish_to(self.room_channel(event.session_id), event)

    async def publish_to_node(self, node_id: str, event: BusEvent) -> None:
        """To one node (a message for a participant it holds)."""
        await self.publish_to(self.node_channel(node_id), event)

    @abstractmethod
    async def publish_to(self, channel: str, event: BusEvent) -> None:
        """To any channel (a media worker's, from ``MediaRegistry.worker_channel``)."""
