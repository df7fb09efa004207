"""What a media worker says, and to whom: participants (through the hub node holding them)
and other workers (origin ↔ relay), all over the bus (see :mod:`media.worker`)."""

from __future__ import annotations

from typing import Any

from media.room_voices import MediaState
from media.subscriber import Offer
from rooms.bus_events import Direct, Relay, RoomMessage
from rooms.bus_port import Bus
from rooms.media_registry import MediaRegistry
from rooms.presence import Presence
from rooms.protocol_models import ErrorMessage, ServerSignal, Speakers, WireMessage

__all__ = ["ORIGIN_PUBLISHER", "RELAY_PREFIX", "Outbox", "speakers_message"]

#: Subscriber ids on an origin for the relay workers it feeds: ``relay:<worker id>``.
RELAY_PREFIX = "relay:"
#: The publisher id on a relay worker for the stream it receives from the origin.
ORIGIN_PUBLISHER = "origin"


class Outbox:
    """Sends for one worker (``worker_id``): ``direct`` events to the node holding a
    participant (found in their presence entry; nothing is sent once they are gone), which
    delivers them as server messages, and ``relay`` events to another worker's channel."""

    def __init__(
        self, worker_id: str, *, bus: Bus, registry: MediaRegistry, presence: Presence
    ) -> None:
        self.worker_id = worker_id
        self._bus = bus
        self._registry = registry
        self._presence = presence

    async def signal(
        self, session_id: str, participant_id: str, kind: str, payload: dict[str, Any]
    ) -> None:
        """A ``{"type": "signal", "from": "sfu", "kind": kind, ...payload}`` message."""
        message = ServerSignal.model_validate({"from": "sfu", "kind": kind, **payload}).wire()
        await self.direct(session_id, participant_id, message)

    async def error(self, session_id: str, participant_id: str, code: str, text: str) -> None:
        message = ErrorMessage(code=code, message=text, from_="sfu").wire()
        await self.direct(session_id, participant_id, message)

    async def direct(self, session_id: str, participant_id: str, message: dict[str, Any]) -> None:
        entry = await self._presence.entry(session_id, participant_id)
        if entry is None:
            return  # gone meanwhile; its presence "left" event tears it down
        event = Direct(session_id, message, participant_id, self.worker_id)
        await self._bus.publish_to_node(entry.node, event)

    async def to_worker(
        self,
        worker_id: str,
        session_id: str,
        step: str,
        *,
        sdp: str | None = None,
        offer_id: str | None = None,
        fresh: bool = False,
    ) -> None:
        """One step of the origin ↔ relay negotiation (``request``, ``offer``, ``answer``),
        to ``worker_id``."""
        event = Relay(session_id, self.worker_id, step, sdp, offer_id, fresh, self.worker_id)
        await self._bus.publish_to(self._registry.worker_channel(worker_id), event)

    async def offer(self, session_id: str, participant_id: str, offer: Offer) -> None:
        """A router's offer to a participant, or to the relay worker ``relay:<worker>`` names."""
        if participant_id.startswith(RELAY_PREFIX):
            worker = participant_id[len(RELAY_PREFIX) :]
            await self.to_worker(worker, session_id, "offer", sdp=offer.sdp, offer_id=offer.id)
        else:
            payload = {"sdp": offer.sdp, "offerId": offer.id, "connectionId": offer.connection}
            await self.signal(session_id, participant_id, "offer", payload)

    async def room_message(self, session_id: str, message: WireMessage) -> None:
        """A message to everyone in the room (``msg`` on the room's channel)."""
        await self._bus.publish(RoomMessage(session_id, message, self.worker_id))


def speakers_message(state: MediaState) -> WireMessage:
    """The room message saying who speaks (loudest first) and whose microphone is muted."""
    return Speakers(speakers=state["speakers"], muted=state["muted"]).wire()
