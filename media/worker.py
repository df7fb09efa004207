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

Every room has its own :class:`~media.router.Router`, in a :class:`media.worker_room.WorkerRoom`
(what each message does); messages for one room are handled one at a time, in order, by that
room's own task, so a slow negotiation in one room never holds up another. What the worker
says goes out through its :class:`media.worker_outbox.Outbox`.

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
from typing import assert_never

from media.capacity import LoadMonitor
from media.config import RouterConfig
from media.recording_worker import RecordingDesk
from media.tasks import TaskSet, cancel_and_wait
from media.worker_outbox import RELAY_PREFIX, Outbox
from media.worker_room import WorkerRoom
from rooms.bus_events import (
    Attach,
    BusEvent,
    CloseParticipant,
    Direct,
    GrantChanged,
    MediaSignal,
    PresenceChanged,
    RecordCommand,
    Relay,
    RoomEndedEvent,
    RoomMessage,
    WaitingDecision,
)
from rooms.bus_port import Bus
from rooms.media_registry import MediaRegistry
from rooms.presence import Presence

__all__ = ["MediaWorker"]

log = logging.getLogger("liveclass.media.worker")


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
        self.rooms: dict[str, WorkerRoom] = {}
        self._outbox = Outbox(worker_id, bus=bus, registry=registry, presence=presence)
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
        published: int | None = None
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            capacity = self.capacity()
            if capacity != published:  # what an operator wants to see when a worker fills up
                published = capacity
                load = self.load
                log.info(
                    "media worker %s: capacity %d with %d subscribers (loop lag %.0f ms, "
                    "core %.0f %% of which waiting %.0f %%)",
                    self.worker_id,
                    capacity,
                    self.subscribers,
                    (load.lag or 0.0) * 1000,
                    (load.utilisation or 0.0) * 100,
                    (load.waiting or 0.0) * 100,
                )
            try:
                await self._registry.heartbeat(self.worker_id, capacity=capacity)
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
        match event:
            case MediaSignal():
                if room is None:
                    if event.kind != "offer":
                        return  # only a publisher's offer opens a room (on its origin)
                    room = self._open_room(sid)
                room.put(event)
            case Attach():
                if room is None:
                    room = self._open_room(sid, origin=event.origin_worker)
                room.put(event)
            case RecordCommand():
                if room is None and event.action == "start":
                    room = self._open_room(sid)  # recording before anyone publishes
                if room is not None:
                    room.put(event)
                else:
                    self._tasks.spawn(self._record(sid, event), name="media-record")
            case PresenceChanged() | RoomEndedEvent() | Relay():
                if room is not None:
                    room.put(event)
            case RoomMessage() | Direct() | CloseParticipant() | GrantChanged() | WaitingDecision():
                pass  # for the nodes' connections
            case _:
                assert_never(event)

    # -- capacity ---------------------------------------------------------------------------

    @property
    def subscribers(self) -> int:
        """The connections this worker sends media on (participants and relay workers)."""
        return sum(len(room.router.subscribers) for room in self.rooms.values())

    def capacity(self) -> int:
        """How many participants this worker admits now (measured; at most
        ``max_subscribers``), in the registry's units: a connection to a relay worker costs
        like a subscriber but is no participant, so it is taken off (else an overloaded
        origin, whose figure is "what it has now", would admit one more per relay)."""
        relays = sum(
            1
            for room in self.rooms.values()
            for subscriber in room.router.subscribers
            if subscriber.startswith(RELAY_PREFIX)
        )
        return max(0, self.load.capacity(self.subscribers) - relays)

    # -- rooms ------------------------------------------------------------------------------

    def _open_room(self, session_id: str, *, origin: str | None = None) -> WorkerRoom:
        room = WorkerRoom(
            session_id,
            config=self._config,
            outbox=self._outbox,
            bus=self._bus,
            registry=self._registry,
            presence=self._presence,
            max_subscribers=self.max_subscribers,
            capacity=self.capacity,
            recordings=self.recordings,
            on_ended=lambda: self._spawn_close(session_id, release=origin is None),
            origin=origin,
        )
        self.rooms[session_id] = room
        # Owned by the room: _close_room cancels and awaits it.
        room.task = asyncio.get_running_loop().create_task(
            room.run(), name=f"media-room-{session_id}"
        )
        return room

    async def _record(self, session_id: str, event: RecordCommand) -> None:
        """A recording command for a room this worker does not serve (a ``stop`` after it
        closed, say)."""
        if self.recordings is None:
            log.error("recording asked of worker %s, which has no database", self.worker_id)
            return
        await self.recordings.command(session_id, None, event)

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
