"""One room on a media worker: its router, its inbox, and what each item in the inbox does.

Items come from the bus (the worker's :meth:`~media.worker.MediaWorker` dispatch: ``sfu``
signals of participants, ``attach``, ``relay``, ``presence``, ``record`` and ``ended``
events) and from the room's router (offers to send, lost connections, who speaks). They are
handled one at a time, in order, by the room's own task (:meth:`WorkerRoom.run`), so a slow
negotiation in one room never holds up another. What each one does is told in
:mod:`media.worker`; answers go out through the worker's :class:`~media.worker_outbox.Outbox`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, assert_never

from media.config import RouterConfig
from media.errors import MediaError
from media.recording_worker import RecordingDesk
from media.room_voices import MediaState
from media.router import Router
from media.sources import SOURCES, Source
from media.subscriber import Offer
from media.worker_outbox import ORIGIN_PUBLISHER, RELAY_PREFIX, Outbox, speakers_message
from rooms.bus_events import (
    Attach,
    MediaSignal,
    PresenceChanged,
    RecordCommand,
    Relay,
    RoomEndedEvent,
)
from rooms.bus_port import Bus
from rooms.media_registry import MediaRegistry
from rooms.presence import Presence

__all__ = ["WorkerRoom"]

log = logging.getLogger("liveclass.media.worker")


@dataclass(frozen=True, slots=True)
class _Lost:
    """The router lost one of a participant's connections (see :mod:`media.worker`)."""

    participant: str
    role: str


@dataclass(frozen=True, slots=True)
class _VoicesChanged:
    """Who speaks and who is muted changed (the router's voices): tell the room."""

    state: MediaState


#: The bus events a room of a worker handles, in order, on its own task.
RoomEvent = MediaSignal | Attach | Relay | PresenceChanged | RoomEndedEvent | RecordCommand
_Item = RoomEvent | tuple[str, Offer] | _Lost | _VoicesChanged


class WorkerRoom:
    """One room this worker serves: as its origin (``origin`` None: publishers send here),
    or as a relay of the worker ``origin``. The owner starts :meth:`run` as the room's task
    (kept in :attr:`task`), feeds :meth:`put`, and on ``on_ended`` (the room ended) cancels
    the task and closes :attr:`router`."""

    def __init__(
        self,
        session_id: str,
        *,
        config: RouterConfig,
        outbox: Outbox,
        bus: Bus,
        registry: MediaRegistry,
        presence: Presence,
        max_subscribers: int,
        capacity: Callable[[], int],
        recordings: RecordingDesk | None,
        on_ended: Callable[[], None],
        origin: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.origin = origin
        self.inbox: asyncio.Queue[_Item] = asyncio.Queue()
        inbox = self.inbox
        self.router = Router(
            session_id,
            on_offer=lambda pid, offer: inbox.put_nowait((pid, offer)),
            config=config,
            on_lost=lambda pid, role: inbox.put_nowait(_Lost(pid, role)),
            on_media_state=lambda state: inbox.put_nowait(_VoicesChanged(state)),
        )
        self.task: asyncio.Task[None] | None = None
        self._outbox = outbox
        self._bus = bus
        self._registry = registry
        self._presence = presence
        self._max_subscribers = max_subscribers
        self._capacity = capacity
        self._recordings = recordings
        self._on_ended = on_ended

    def put(self, event: RoomEvent) -> None:
        self.inbox.put_nowait(event)

    async def run(self) -> None:
        """Handle the room's inbox, one item at a time, until the room ends."""
        await self._bus.subscribe(self._bus.room_channel(self.session_id))
        if self.origin is None:
            await self._offer_everyone()
        else:
            await self._outbox.to_worker(self.origin, self.session_id, "request")
        while True:
            item = await self.inbox.get()
            try:
                if isinstance(item, tuple):
                    # A renegotiation queued before its connection was replaced is void.
                    if self.router.is_pending(*item):
                        await self._outbox.offer(self.session_id, *item)
                elif isinstance(item, _Lost):
                    await self._lost(item)
                elif isinstance(item, _VoicesChanged):
                    await self._outbox.room_message(self.session_id, speakers_message(item.state))
                elif isinstance(item, MediaSignal):
                    await self._signal(item)
                elif isinstance(item, Attach):
                    await self._subscribe(item.participant, fresh=item.fresh)
                elif isinstance(item, Relay):
                    await self._relay(item)
                elif isinstance(item, PresenceChanged):
                    await self._presence_changed(item)
                elif isinstance(item, RecordCommand):
                    await self._record(item)
                elif isinstance(item, RoomEndedEvent):
                    self._on_ended()
                    return
                else:
                    assert_never(item)
            except MediaError as exc:
                participant = (
                    item[0]
                    if isinstance(item, tuple)
                    else item.participant
                    if isinstance(item, _Lost)
                    else item.participant
                    if isinstance(item, MediaSignal | Attach)
                    else None
                )
                log.info("media error in %s for %s: %s", self.session_id, participant, exc)
                if isinstance(participant, str):
                    await self._outbox.error(self.session_id, participant, exc.code, str(exc))
            except Exception:
                log.exception("media worker failed on a message of room %s", self.session_id)

    async def _record(self, event: RecordCommand) -> None:
        if self._recordings is None:
            worker = self._outbox.worker_id
            log.error("recording asked of worker %s, which has no database", worker)
            return
        router = self.router if self.origin is None else None
        await self._recordings.command(self.session_id, router, event)

    async def _offer_everyone(self) -> None:
        snapshot = await self._presence.snapshot(self.session_id)
        for entry in snapshot.entries:
            if entry.source == "ws":
                await self._serve(entry.participant_id)

    async def _serve(self, participant_id: str, *, fresh: bool = False) -> None:
        """On the origin: send the room's media to a participant, from here or from the relay
        worker the registry assigns them. ``fresh``: their receiving connection was replaced,
        so a subscription they already have is dropped and offered again."""
        worker = await self._registry.assign(
            self.session_id,
            participant_id,
            cap=self._max_subscribers,
            origin_capacity=self._capacity(),
        )
        if worker is None or worker == self._outbox.worker_id:
            await self._subscribe(participant_id, fresh=fresh)
        else:
            me = self._outbox.worker_id
            event = Attach(self.session_id, participant_id, me, fresh, me)
            await self._bus.publish_to(self._registry.worker_channel(worker), event)

    async def _relay(self, event: Relay) -> None:
        """One step of the origin ↔ relay negotiation (see :mod:`media.worker`)."""
        step = event.step
        if self.origin is None:  # we are the origin; a relay asks or answers
            relay_id = RELAY_PREFIX + event.worker
            if step == "request":
                if event.fresh:  # the relay lost its connection from us
                    await self.router.unsubscribe(relay_id)
                offer = await self.router.subscribe(relay_id)
                if offer is not None:
                    await self._outbox.offer(self.session_id, relay_id, offer)
            elif step == "answer":
                await self._answer(relay_id, event.sdp or "", event.offer_id)
        elif step == "offer":  # we are a relay; the origin (re)offers the room's tracks
            answer = await self.router.publish(ORIGIN_PUBLISHER, event.sdp or "", relay=True)
            await self._outbox.to_worker(
                self.origin, self.session_id, "answer", sdp=answer, offer_id=event.offer_id
            )

    async def _lost(self, lost: _Lost) -> None:
        """A connection the router tore down (see :mod:`media.worker`)."""
        pid = lost.participant
        log.info("media %s of %s in %s lost: starting over", lost.role, pid, self.session_id)
        if self.origin is not None and pid == ORIGIN_PUBLISHER:
            await self._outbox.to_worker(self.origin, self.session_id, "request", fresh=True)
            return
        if pid.startswith(RELAY_PREFIX):
            return  # the relay lost its side too and asks again
        if lost.role == "publisher":
            await self._outbox.signal(self.session_id, pid, "restart", {"reason": "publisher_lost"})
        if self.origin is None:
            await self._serve(pid, fresh=True)
        else:
            await self._subscribe(pid, fresh=True)

    async def _answer(self, participant_id: str, sdp: str, offer_id: str | None) -> None:
        """Apply an answer to the offer it names; a stale one (its connection was replaced
        since: a restart crossed it) is dropped quietly, the answer to the new offer follows."""
        try:
            await self.router.answer(participant_id, sdp, offer_id)
        except MediaError as exc:
            if exc.code != "stale_answer":
                raise
            log.info("dropped a stale answer from %s: %s", participant_id, exc)

    async def _subscribe(self, participant_id: str, *, fresh: bool = False) -> None:
        if fresh:
            await self.router.unsubscribe(participant_id)
        offer = await self.router.subscribe(participant_id)
        if offer is not None:
            await self._outbox.offer(self.session_id, participant_id, offer)
        voices = self.router.voices.state
        if self.origin is None and (voices["speakers"] or voices["muted"]):
            await self._outbox.direct(self.session_id, participant_id, speakers_message(voices))

    async def _signal(self, event: MediaSignal) -> None:
        data = event.signal
        pid = event.participant
        kind = event.kind
        if kind == "offer":
            if not event.publish:
                await self._outbox.error(
                    self.session_id, pid, "forbidden", "you may not publish here"
                )
                return
            source = _source(data) or "camera"
            answer = await self.router.publish(
                pid, str(data.get("sdp", "")), source=source, layers=_layers(data)
            )
            reply: dict[str, Any] = {"sdp": answer, "source": source}
            if isinstance(data.get("offerId"), str):
                reply["offerId"] = data["offerId"]  # the client matches it to its connection
            await self._outbox.signal(self.session_id, pid, "answer", reply)
            # A participant who publishes receives the others' media too.
            await self._serve(pid)
        elif kind == "resubscribe" and self.origin is None:
            # The hub told them to restart (the room moved here, or their relay died): what
            # we may have offered their old connection is lost with it, so offer anew.
            await self._serve(pid, fresh=True)
        elif kind == "restart":  # the client lost its connections (say, its network changed)
            await self.router.remove(pid)
            if self.origin is None:
                await self._serve(pid)
        elif kind == "unpublish":  # no source: the grant was withdrawn, all of it ends
            await self.router.unpublish(pid, _source(data))
        elif kind == "mute":
            self.router.set_muted(pid, data.get("muted") is True)
        elif kind == "answer":
            offer_id = data.get("offerId")
            sdp = str(data.get("sdp", ""))
            await self._answer(pid, sdp, offer_id if isinstance(offer_id, str) else None)
        elif kind == "ice":
            target, candidate = data.get("target"), data.get("candidate")
            await self.router.add_ice(
                pid,
                candidate if isinstance(candidate, dict) else None,
                target="publisher"
                if target == "publisher"
                else "subscriber"
                if target == "subscriber"
                else None,
            )

    async def _presence_changed(self, event: PresenceChanged) -> None:
        for view in event.left:
            await self.router.remove(str(view["id"]))
            if self.origin is None:
                await self._registry.unassign(self.session_id, str(view["id"]))
        if self.origin is None:
            for view in event.joined:
                await self._serve(str(view["id"]))


def _source(data: dict[str, Any]) -> Source | None:
    """The publication a signal names (``source``), if it names a known one."""
    value = data.get("source")
    return next((s for s in SOURCES if s == value), None)


def _layers(data: dict[str, Any]) -> dict[str, str] | None:
    """The layers an offer names (``layers``: mid -> ``low``/``high``), strings only."""
    value = data.get("layers")
    if not isinstance(value, dict):
        return None
    return {str(mid): name for mid, name in value.items() if isinstance(name, str)}
