"""A media worker: serves the rooms the registry places on it, over the bus only.

The worker never talks to clients or hub nodes directly. It

- heartbeats in the :class:`~rooms.media_registry.MediaRegistry`, so hubs can place rooms on it;
- listens on its own channel for ``sfu`` events (a participant's ``signal`` to ``sfu``, relayed
  by the hub node holding that participant): offers to publish, answers to the worker's
  offers, trickled ICE candidates;
- subscribes to the channel of every room it serves, and follows its ``presence`` events
  (everyone who joins is offered the room's media; whoever leaves is torn down) and its
  ``ended`` event (the room's router closes and its place is released);
- sends its answers and offers back as ``direct`` events to the node holding the participant
  (found in the participant's presence entry), which delivers them as
  ``{"type": "signal", "from": "sfu", ...}``.

Every room has its own :class:`~media.router.Router`; messages for one room are handled one at
a time, in order, by that room's own task, so a slow negotiation in one room never holds up
another.

A room bigger than one worker spreads: a worker carries at most ``max_subscribers``
participants, and fewer when it measures that it cannot carry more (event-loop lag, CPU:
:mod:`media.capacity`; the figure travels with its heartbeat). The
worker the room is placed on is its *origin*: publishers send there, and it assigns every
participant a worker through :meth:`~rooms.media_registry.MediaRegistry.assign` — itself while
it has room, else a *relay* worker. A relay is told by an ``attach`` event; it then asks the
origin for the room's tracks (``relay`` events carry one WebRTC negotiation between the two
workers: the origin subscribes ``relay:<worker>`` to everything, the relay publishes what it
receives under the original publishers' names) and sends them on to its participants, who
negotiate with it exactly as with an origin (the hub routes their answers by assignment).
Keyframe requests travel back the same way (subscriber → relay → origin → publisher).

Server recordings (``record`` events from the API, see :mod:`media.recording_worker`) run on
a room's origin, in the room's inbox; a room that closes finishes its recording first.

A connection the router lost (it failed, or aioice closed it after unanswered consent checks)
is reported in the room's inbox: a lost publisher gets ``restart`` (reason
``publisher_lost``; the client closes both its connections and publishes again) and a fresh
offer to receive on; a lost subscriber gets a fresh offer (a new ``connectionId``, which the
client answers on a new peer connection); a relay whose feed from the origin was lost asks
the origin for it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from media.capacity import LoadMonitor
from media.config import RouterConfig
from media.errors import MediaError
from media.recording_worker import RecordingDesk
from media.room_voices import MediaState
from media.router import Router
from media.sources import SOURCES, Source
from media.subscriber import Offer
from media.tasks import TaskSet, cancel_and_wait
from rooms.bus import BusEvent
from rooms.bus_port import Bus
from rooms.media_registry import MediaRegistry
from rooms.presence import Presence
from rooms.protocol_models import ErrorMessage, ServerSignal, Speakers, WireMessage
from rooms.server_recordings import RECORD_EVENT

__all__ = ["MediaWorker"]

log = logging.getLogger("liveclass.media.worker")

#: Subscriber ids on an origin for the relay workers it feeds: ``relay:<worker id>``.
RELAY_PREFIX = "relay:"
#: The publisher id on a relay worker for the stream it receives from the origin.
ORIGIN_PUBLISHER = "origin"


@dataclass(frozen=True, slots=True)
class _Lost:
    """The router lost one of a participant's connections (see the module docstring)."""

    participant: str
    role: str


@dataclass(frozen=True, slots=True)
class _VoicesChanged:
    """Who speaks and who is muted changed (the router's voices): tell the room."""

    state: MediaState


_Item = BusEvent | tuple[str, Offer] | _Lost | _VoicesChanged


@dataclass
class _Room:
    router: Router
    inbox: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    #: None on the room's origin; on a relay, the origin worker it receives the room from.
    origin: str | None = None


class MediaWorker:
    def __init__(
        self,
        *,
        worker_id: str,
        bus: Bus,
        registry: MediaRegistry,
        presence: Presence,
        router_config: RouterConfig | None = None,
        heartbeat_interval: float = 3.0,
        max_subscribers: int = 150,
        clock: Callable[[], float] = time.time,
        recordings: RecordingDesk | None = None,
        load: LoadMonitor | None = None,
    ) -> None:
        self.worker_id = worker_id
        #: What this worker measures it can carry (see :mod:`media.capacity`).
        self.load = load or LoadMonitor(ceiling=max_subscribers)
        #: Server recordings (None: this worker has no database and refuses to record).
        self.recordings = recordings
        self.max_subscribers = max_subscribers
        self._bus = bus
        self._registry = registry
        self._presence = presence
        self._config = router_config or RouterConfig()
        self._heartbeat_interval = heartbeat_interval
        self._clock = clock
        self.rooms: dict[str, _Room] = {}
        self._tasks = TaskSet()
        self._stopped = False

    async def start(self) -> None:
        """Subscribe, heartbeat once (so rooms can be placed here at once), start the loops."""
        await self._bus.subscribe(self._registry.worker_channel(self.worker_id))
        await self._registry.heartbeat(self.worker_id)
        self.load.start()
        self._tasks.spawn(self._listen(), name="media-bus")
        self._tasks.spawn(self._heartbeat(), name="media-heartbeat")

    async def stop(self) -> None:
        """Leave the registry, close every room's router, stop every task; never hangs."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            await self._registry.retire(self.worker_id)
        for sid in list(self.rooms):
            await self._close_room(sid, release=False)
        await self._tasks.close()
        await self.load.close()
        with contextlib.suppress(Exception):
            await self._bus.close()

    # -- loops ------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            try:
                await self._registry.heartbeat(self.worker_id, capacity=self.capacity())
            except Exception as exc:
                log.warning("media heartbeat failed: %r", exc)

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                async for _channel, event in self._bus.events():
                    backoff = 0.1
                    self._dispatch(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("media bus lost (%r); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                with contextlib.suppress(Exception):
                    await self._bus.close()
                    channels = [self._registry.worker_channel(self.worker_id)] + [
                        self._bus.room_channel(sid) for sid in self.rooms
                    ]
                    await self._bus.subscribe(*channels)

    def _dispatch(self, event: BusEvent) -> None:
        sid = event.session_id
        room = self.rooms.get(sid)
        if event.kind == "sfu":
            if room is None:
                if event.data.get("kind") != "offer":
                    return  # only a publisher's offer opens a room (on its origin)
                room = self._open_room(sid)
            room.inbox.put_nowait(event)
        elif event.kind == "attach":
            if room is None:
                room = self._open_room(sid, origin=str(event.data.get("origin", "")))
            room.inbox.put_nowait(event)
        elif event.kind == RECORD_EVENT:
            if room is None and event.data.get("action") == "start":
                room = self._open_room(sid)  # recording before anyone publishes
            if room is not None:
                room.inbox.put_nowait(event)
            else:
                self._tasks.spawn(self._record(sid, None, event), name="media-record")
        elif room is not None and event.kind in ("presence", "ended", "relay"):
            room.inbox.put_nowait(event)

    # -- capacity ---------------------------------------------------------------------------

    @property
    def subscribers(self) -> int:
        """The connections this worker sends media on (participants and relay workers)."""
        return sum(len(room.router.subscribers) for room in self.rooms.values())

    def capacity(self) -> int:
        """How many subscribers this worker admits now (measured; at most ``max_subscribers``)."""
        return self.load.capacity(self.subscribers)

    # -- rooms ------------------------------------------------------------------------------

    def _open_room(self, session_id: str, *, origin: str | None = None) -> _Room:
        inbox: asyncio.Queue[_Item] = asyncio.Queue()
        router = Router(
            session_id,
            on_offer=lambda pid, offer: inbox.put_nowait((pid, offer)),
            config=self._config,
            on_lost=lambda pid, role: inbox.put_nowait(_Lost(pid, role)),
            on_media_state=lambda state: inbox.put_nowait(_VoicesChanged(state)),
        )
        room = _Room(router, inbox, origin=origin)
        self.rooms[session_id] = room
        # Owned by the room: _close_room cancels and awaits it.
        room.task = asyncio.get_running_loop().create_task(
            self._run_room(session_id, room), name=f"media-room-{session_id}"
        )
        return room

    async def _run_room(self, session_id: str, room: _Room) -> None:
        await self._bus.subscribe(self._bus.room_channel(session_id))
        if room.origin is None:
            await self._offer_everyone(session_id, room)
        else:
            await self._to_worker(room.origin, session_id, {"kind": "request"})
        while True:
            item = await room.inbox.get()
            try:
                if isinstance(item, tuple):
                    # A renegotiation queued before its connection was replaced is void.
                    if room.router.is_pending(*item):
                        await self._offer(session_id, *item)
                elif isinstance(item, _Lost):
                    await self._lost(session_id, room, item)
                elif isinstance(item, _VoicesChanged):
                    message = speakers_message(item.state)
                    await self._bus.publish(
                        BusEvent("msg", session_id, self.worker_id, message=message)
                    )
                elif item.kind == "sfu":
                    await self._signal(session_id, room, item)
                elif item.kind == "attach":
                    await self._subscribe(
                        session_id,
                        room,
                        str(item.data.get("participant")),
                        fresh=bool(item.data.get("fresh")),
                    )
                elif item.kind == "relay":
                    await self._relay(session_id, room, item)
                elif item.kind == "presence":
                    await self._presence_changed(session_id, room, item)
                elif item.kind == RECORD_EVENT:
                    await self._record(session_id, room, item)
                elif item.kind == "ended":
                    self._spawn_close(session_id, release=room.origin is None)
                    return
            except MediaError as exc:
                participant = (
                    item[0]
                    if isinstance(item, tuple)
                    else item.participant
                    if isinstance(item, _Lost)
                    else item.data.get("participant")
                    if isinstance(item, BusEvent)
                    else None
                )
                log.info("media error in %s for %s: %s", session_id, participant, exc)
                if isinstance(participant, str):
                    await self._send_error(session_id, participant, exc.code, str(exc))
            except Exception:
                log.exception("media worker failed on a message of room %s", session_id)

    async def _record(self, session_id: str, room: _Room | None, event: BusEvent) -> None:
        if self.recordings is None:
            log.error("recording asked of worker %s, which has no database", self.worker_id)
            return
        router = room.router if room is not None and room.origin is None else None
        await self.recordings.command(session_id, router, event.data)

    async def _offer_everyone(self, session_id: str, room: _Room) -> None:
        snapshot = await self._presence.snapshot(session_id)
        for entry in snapshot.entries:
            if entry.source == "ws":
                await self._serve(session_id, room, entry.participant_id)

    async def _serve(
        self, session_id: str, room: _Room, participant_id: str, *, fresh: bool = False
    ) -> None:
        """On the origin: send the room's media to a participant, from here or from the relay
        worker the registry assigns them. ``fresh``: their receiving connection was replaced,
        so a subscription they already have is dropped and offered again."""
        worker = await self._registry.assign(
            session_id,
            participant_id,
            cap=self.max_subscribers,
            origin_capacity=self.capacity(),
        )
        if worker is None or worker == self.worker_id:
            await self._subscribe(session_id, room, participant_id, fresh=fresh)
        else:
            data = {"participant": participant_id, "origin": self.worker_id, "fresh": fresh}
            event = BusEvent("attach", session_id, self.worker_id, data=data)
            await self._bus.publish_to(self._registry.worker_channel(worker), event)

    async def _relay(self, session_id: str, room: _Room, event: BusEvent) -> None:
        """One step of the origin ↔ relay negotiation (see the module docstring)."""
        data = event.data
        kind = data.get("kind")
        if room.origin is None:  # we are the origin; a relay asks or answers
            relay_id = RELAY_PREFIX + str(data.get("worker", event.origin))
            if kind == "request":
                if data.get("fresh"):  # the relay lost its connection from us
                    await room.router.unsubscribe(relay_id)
                offer = await room.router.subscribe(relay_id)
                if offer is not None:
                    await self._offer(session_id, relay_id, offer)
            elif kind == "answer":
                await self._answer(room, relay_id, data)
        elif kind == "offer":  # we are a relay; the origin (re)offers the room's tracks
            answer = await room.router.publish(
                ORIGIN_PUBLISHER, str(data.get("sdp", "")), relay=True
            )
            reply = {"kind": "answer", "sdp": answer, "offerId": data.get("offerId")}
            await self._to_worker(room.origin, session_id, reply)

    async def _lost(self, session_id: str, room: _Room, lost: _Lost) -> None:
        """A connection the router tore down (see the module docstring)."""
        pid = lost.participant
        log.info("media %s of %s in %s lost: starting over", lost.role, pid, session_id)
        if room.origin is not None and pid == ORIGIN_PUBLISHER:
            await self._to_worker(room.origin, session_id, {"kind": "request", "fresh": True})
            return
        if pid.startswith(RELAY_PREFIX):
            return  # the relay lost its side too and asks again
        if lost.role == "publisher":
            await self._send(session_id, pid, "restart", {"reason": "publisher_lost"})
        if room.origin is None:
            await self._serve(session_id, room, pid, fresh=True)
        else:
            await self._subscribe(session_id, room, pid, fresh=True)

    async def _offer(self, session_id: str, participant_id: str, offer: Offer) -> None:
        payload = {"sdp": offer.sdp, "offerId": offer.id, "connectionId": offer.connection}
        if participant_id.startswith(RELAY_PREFIX):
            worker = participant_id[len(RELAY_PREFIX) :]
            await self._to_worker(worker, session_id, {"kind": "offer", **payload})
        else:
            await self._send(session_id, participant_id, "offer", payload)

    async def _answer(self, room: _Room, participant_id: str, data: dict[str, Any]) -> None:
        """Apply an answer to the offer it names; a stale one (its connection was replaced
        since: a restart crossed it) is dropped quietly, the answer to the new offer follows."""
        offer_id = data.get("offerId")
        try:
            await room.router.answer(
                participant_id,
                str(data.get("sdp", "")),
                offer_id if isinstance(offer_id, str) else None,
            )
        except MediaError as exc:
            if exc.code != "stale_answer":
                raise
            log.info("dropped a stale answer from %s: %s", participant_id, exc)

    async def _to_worker(self, worker_id: str, session_id: str, data: dict[str, Any]) -> None:
        event = BusEvent(
            "relay", session_id, self.worker_id, data={"worker": self.worker_id, **data}
        )
        await self._bus.publish_to(self._registry.worker_channel(worker_id), event)

    async def _subscribe(
        self, session_id: str, room: _Room, participant_id: str, *, fresh: bool = False
    ) -> None:
        if fresh:
            await room.router.unsubscribe(participant_id)
        offer = await room.router.subscribe(participant_id)
        if offer is not None:
            await self._offer(session_id, participant_id, offer)
        voices = room.router.voices.state
        if room.origin is None and (voices["speakers"] or voices["muted"]):
            await self._direct(session_id, participant_id, speakers_message(voices))

    async def _signal(self, session_id: str, room: _Room, event: BusEvent) -> None:
        data = event.data
        pid = str(data.get("participant", ""))
        kind = data.get("kind")
        if kind == "offer":
            if not data.get("publish"):
                await self._send_error(session_id, pid, "forbidden", "you may not publish here")
                return
            source = _source(data) or "camera"
            answer = await room.router.publish(
                pid, str(data.get("sdp", "")), source=source, layers=_layers(data)
            )
            reply: dict[str, Any] = {"sdp": answer, "source": source}
            if isinstance(data.get("offerId"), str):
                reply["offerId"] = data["offerId"]  # the client matches it to its connection
            await self._send(session_id, pid, "answer", reply)
            # A participant who publishes receives the others' media too.
            await self._serve(session_id, room, pid)
        elif kind == "resubscribe" and room.origin is None:
            # The hub told them to restart (the room moved here, or their relay died): what
            # we may have offered their old connection is lost with it, so offer anew.
            await self._serve(session_id, room, pid, fresh=True)
        elif kind == "restart":  # the client lost its connections (say, its network changed)
            await room.router.remove(pid)
            if room.origin is None:
                await self._serve(session_id, room, pid)
        elif kind == "unpublish":  # no source: the grant was withdrawn, all of it ends
            await room.router.unpublish(pid, _source(data))
        elif kind == "mute":
            room.router.set_muted(pid, data.get("muted") is True)
        elif kind == "answer":
            await self._answer(room, pid, data)
        elif kind == "ice":
            target = data.get("target")
            await room.router.add_ice(
                pid,
                data.get("candidate"),
                target=target if target in ("publisher", "subscriber") else None,
            )

    async def _presence_changed(self, session_id: str, room: _Room, event: BusEvent) -> None:
        for view in event.data.get("left", []):
            await room.router.remove(str(view["id"]))
            if room.origin is None:
                await self._registry.unassign(session_id, str(view["id"]))
        if room.origin is None:
            for view in event.data.get("joined", []):
                await self._serve(session_id, room, str(view["id"]))

    def _spawn_close(self, session_id: str, *, release: bool) -> None:
        self._tasks.spawn(self._close_room(session_id, release=release), name="media-close")

    async def _close_room(self, session_id: str, *, release: bool) -> None:
        room = self.rooms.pop(session_id, None)
        if room is None:
            return
        if room.task is not None and room.task is not asyncio.current_task():
            await cancel_and_wait(room.task)
        # Released first, so whoever sees the connections close finds the places free.
        if self.recordings is not None:
            try:  # before the router closes: the file keeps everything up to the end
                await self.recordings.finish(session_id)
            except Exception:
                log.exception("the recording of room %s was not finished", session_id)
        if release:
            with contextlib.suppress(Exception):
                await self._registry.release(session_id)
        await room.router.close()
        with contextlib.suppress(Exception):
            await self._bus.unsubscribe(self._bus.room_channel(session_id))

    # -- talking back -----------------------------------------------------------------------

    async def _send(
        self, session_id: str, participant_id: str, kind: str, payload: dict[str, Any]
    ) -> None:
        message = ServerSignal.model_validate({"from": "sfu", "kind": kind, **payload}).wire()
        await self._direct(session_id, participant_id, message)

    async def _send_error(self, session_id: str, participant_id: str, code: str, text: str) -> None:
        message = ErrorMessage(code=code, message=text, from_="sfu").wire()
        await self._direct(session_id, participant_id, message)

    async def _direct(self, session_id: str, participant_id: str, message: dict[str, Any]) -> None:
        entry = await self._presence.entry(session_id, participant_id)
        if entry is None:
            return  # gone meanwhile; its presence "left" event tears it down
        event = BusEvent("direct", session_id, self.worker_id, message=message, to=participant_id)
        await self._bus.publish_to_node(entry.node, event)


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


def speakers_message(state: MediaState) -> WireMessage:
    """The room message saying who speaks (loudest first) and whose microphone is muted."""
    return Speakers(speakers=state["speakers"], muted=state["muted"]).wire()
