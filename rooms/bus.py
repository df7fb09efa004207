"""The cross-node bus: room events over Redis pub/sub.

Every room has one channel (``lc:{sid}:bus``) that every node with participants in the room
subscribes to: one publish per room event, and each node fans it out to its own clients.
Messages for one participant go to the channel of the node that holds it
(``lc:node:{node_id}``), found in the participant's presence entry. Every channel name comes
from ``rooms/keys.py``.

On a Redis Cluster (``connect_redis(..., cluster=True)``) the bus uses plain ``PUBLISH`` and
``SUBSCRIBE``: the cluster forwards every publication to every node, so this process's one
subscriber connection, on whichever node it landed, hears every channel, and it survives slot
migrations and fail-overs by reconnecting to any node. The price is that every event crosses
every shard; at liveclass's event rates (a few thousand a second for a 500-client class) that
is far below what one Redis node forwards. Sharded pub/sub (``sharded=True``:
``SPUBLISH``/``SSUBSCRIBE``) is for a single server only: on a cluster it needs one reader per
shard node, and redis-py's reader polls the shards in turn, delaying each message behind the
others' poll timeouts.

Events are typed (:data:`rooms.bus_events.BusEvent`, one class per kind), MessagePack maps
on the wire. Delivery is at most once (pub/sub): what must
not be lost is persisted (chat, in the store) and kept in the room's reliable log before it is
published, so a client that missed it gets it on resume.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import msgpack
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError

from rooms.bus_channels import ChannelBus
from rooms.bus_codec import decode, encode
from rooms.bus_events import BusEvent
from rooms.keys import Channels
from rooms.redis_client import channel_prefix, is_cluster

__all__ = ["BusEvent", "RoomBus"]

log = logging.getLogger("liveclass.bus")


class RoomBus(ChannelBus):
    """Publishing and subscribing to room and node channels over one Redis client."""

    def __init__(self, redis: Redis, *, prefix: str = "lc", sharded: bool = False) -> None:
        self._redis = redis
        self._channels = Channels(channel_prefix(redis, prefix))
        self._sharded = sharded
        self._pubsub: PubSub | None = None
        self._lock = asyncio.Lock()

    async def publish_to(self, channel: str, event: BusEvent) -> None:
        """To any channel (a media worker's, from ``MediaRegistry.worker_channel``)."""
        await self._publish(channel, encode(event))

    def script_publication(self, redis: Redis, event: BusEvent) -> tuple[str, bytes] | None:
        """The room channel and payload with which a Lua script on ``redis`` publishes
        ``event`` as :meth:`publish` would (in one step with the script's writes: the room
        log's); None where a script's PUBLISH would not do: another client, sharded pub/sub,
        a cluster."""
        if redis is not self._redis or self._sharded or is_cluster(redis):
            return None
        return self.room_channel(event.session_id), encode(event)

    async def _publish(self, channel: str, payload: bytes) -> None:
        if self._sharded:
            await self._redis.spublish(channel, payload)
        else:
            await self._redis.publish(channel, payload)

    async def _ensure(self) -> PubSub:
        if self._pubsub is None:
            if is_cluster(self._redis):
                # The cluster client routes the SUBSCRIBE by the first channel's slot, so it
                # needs its slot map first (fetched on the first command otherwise).
                await self._redis.initialize()
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        return self._pubsub

    async def subscribe(self, *channels: str) -> None:
        async with self._lock:
            pubsub = await self._ensure()
            if self._sharded:
                await pubsub.ssubscribe(*channels)
            else:
                await pubsub.subscribe(*channels)

    async def unsubscribe(self, *channels: str) -> None:
        async with self._lock:
            if self._pubsub is None:
                return
            if self._sharded:
                await self._pubsub.sunsubscribe(*channels)
            else:
                await self._pubsub.unsubscribe(*channels)

    async def events(self, poll_timeout: float = 1.0) -> AsyncIterator[tuple[str, BusEvent]]:
        """Every event on the subscribed channels, as ``(channel, event)``, until cancelled.

        Undecodable payloads are logged and skipped, and so are events of kinds this version
        does not know (a newer node's: kinds are only ever added). Raises redis errors when
        the connection is lost; the caller re-subscribes after reconnecting.
        """
        pubsub = await self._ensure()
        while True:
            if not pubsub.subscribed:
                raise RedisConnectionError("the bus is not subscribed to anything")
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=poll_timeout)
            if message is None:
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            try:
                event = decode(message["data"])
            except (ValueError, KeyError, TypeError, msgpack.UnpackException):
                log.warning("dropped an undecodable bus event on %s", channel)
                continue
            if event is not None:
                yield channel, event

    async def close(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
