"""The per-node room hub: admits WebSocket connections into rooms and relays their messages.

A node holds some participants of some rooms. Everything that concerns a whole room goes
through the bus (``rooms/bus.py``): one publish per room event, and every node in the room —
this one included — fans it out to its own connections. So the hub behaves the same on one
node and on many.

Lifecycle of a connection (the Starlette glue in ``signaling/endpoint.py`` drives it):

1. :meth:`Hub.join`: verify the room token, load the room, admit the participant atomically in
   Redis (capacity, bans, not live, replacing the user's older connection), or close with the
   protocol's close code. A ``resume`` token from an earlier ``welcome`` keeps the participant
   id and replays every reliable message after ``last_seq``; the others see no leave or join.
2. :meth:`Hub.receive` for every frame: decode, let the participant's logic decide, carry out
   the effects (persist and broadcast chat, relay signals, host actions).
3. :meth:`Hub.disconnected` when the reader ends. A connection that dropped keeps its seat for
   ``resume_grace`` seconds (the entry's expiry is set to the grace period and no longer
   renewed); if nobody resumes it, the sweep removes it and tells the room.

Background tasks: the bus listener, the heartbeat (renews the expiry of every live local
entry every ``heartbeat_interval``; entries of a dead node expire after ``presence_ttl``) and
the sweep (purges expired entries of local rooms every ``sweep_interval`` and tells the room).
:meth:`Hub.drain` (graceful shutdown) closes every connection with 1001 and leaves their seats
to the resume grace, so clients resume on another node without anyone seeing them leave.

This module is the facade and the lifecycle; the work is done by its parts, each on the one
:class:`~signaling.node.Node` (this node's rooms and connections):

- ``signaling/room_core.py``: the decisions, sans-I/O (tested without sockets);
- ``signaling/admission.py``: joins and resumes;
- ``signaling/effects.py``: what a participant's frame asks (``ParticipantLogic``'s effects);
- ``signaling/media_routing.py``: signals for the SFU, media worker failover;
- ``signaling/presence_upkeep.py``: announcements, heartbeat, sweep, re-assertion;
- ``signaling/bus_listener.py``: the bus's events for this node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rooms.activity import ActivityStore
from rooms.attendance import AttendanceService
from rooms.bans import Bans
from rooms.breakout_store import BreakoutStore
from rooms.bus_events import ForParticipant
from rooms.bus_port import Bus
from rooms.chat import ChatService
from rooms.futures import cancel_and_wait
from rooms.media_registry import MediaRegistry
from rooms.participation import RoomAdmitter
from rooms.poll_store import PollStore
from rooms.presence import Presence, PresenceEntry
from rooms.questions import QuestionStore
from rooms.room_log import RoomLog
from rooms.sessions import SessionService
from rooms.store import Database
from rooms.tokens import RoomTokens
from signaling import close_codes
from signaling.admission import Seating, Waiting
from signaling.breakouts import BreakoutDesk
from signaling.bus_listener import BusListener
from signaling.connection import Connection
from signaling.effects import EffectRunner
from signaling.local_room import LocalRoom
from signaling.media_routing import MediaRouting
from signaling.metrics import HubMetrics
from signaling.node import HubSettings, Node, new_node_id
from signaling.presence_upkeep import PresenceUpkeep
from signaling.questions import QuestionDesk
from signaling.talk_time import TalkKeeper
from signaling.teaching import Teaching
from signaling.waiting_room import Lobby, Receive

__all__ = ["Hub", "HubSettings", "new_node_id"]

log = logging.getLogger("liveclass.hub")

#: How long a drain waits for its clients to complete the closing handshake.
DRAIN_CLOSE_TIMEOUT = 10.0


class Hub:
    def __init__(
        self,
        *,
        node_id: str,
        database: Database,
        presence: Presence,
        admitter: RoomAdmitter,
        attendance: AttendanceService,
        chat: ChatService,
        sessions: SessionService,
        room_log: RoomLog,
        bus: Bus,
        tokens: RoomTokens,
        settings: HubSettings | None = None,
        metrics: HubMetrics | None = None,
        clock: Callable[[], float] = time.time,
        media: MediaRegistry | None = None,
    ) -> None:
        self.node_id = node_id
        self.settings = settings or HubSettings()
        self.metrics = metrics or HubMetrics()
        node = Node(
            node_id=node_id,
            settings=self.settings,
            metrics=self.metrics,
            clock=clock,
            database=database,
            presence=presence,
            bus=bus,
        )
        self._node = node
        self._bus = bus
        bans = Bans(database, presence)
        self._media = MediaRouting(node, media)
        self._upkeep = PresenceUpkeep(
            node, attendance=attendance, chat=chat, bans=bans, media=self._media
        )
        self._listener = BusListener(
            node, upkeep=self._upkeep, media=self._media, chat=chat, room_log=room_log
        )
        self._seating = Seating(
            node,
            database=database,
            admitter=admitter,
            chat=chat,
            room_log=room_log,
            tokens=tokens,
            upkeep=self._upkeep,
            listener=self._listener,
        )
        #: Polls and the other teaching tools (signaling/teaching.py).
        self.teaching = Teaching(
            node_id=node_id,
            polls=PollStore(database),
            chat=chat,
            next_seq=chat.next_seq,
            room_log=room_log,
            bus=bus,
            clock=clock,
            presence=presence,
        )
        #: Hands raised and talk time per participant (rooms/activity.py), for the analytics.
        self.activity = ActivityStore(database)
        #: This node's participants' talk time, from the SFU's speakers messages.
        self.talk = TalkKeeper(node, self.activity)
        self._listener.on_speakers = self.talk.heard
        node.release_hooks.append(self.talk.left)
        #: The waiting room (signaling/waiting_room.py): students wait here before admission.
        self.lobby = Lobby(node, presence.waiting_room)
        #: Private questions to the teacher (signaling/questions.py).
        self.questions = QuestionDesk(
            QuestionStore(database), bus=bus, node_id=node_id, clock=clock
        )
        self._effects = EffectRunner(
            node,
            activity=self.activity,
            teaching=self.teaching,
            lobby=self.lobby,
            questions=self.questions,
            admitter=admitter,
            attendance=attendance,
            chat=chat,
            sessions=sessions,
            room_log=room_log,
            bans=bans,
            upkeep=self._upkeep,
            media=self._media,
            deliver_here=self._listener.on_event,
        )
        #: How a chat message posted over REST reaches the room (one that cannot be
        #: published is refused, unstored, so its sender may send it again).
        self.chat_delivery = self._effects.chat_delivery()
        #: Run for every seated connection after its welcome (what hosts see of the tools).
        #: Breakout rooms (signaling/breakouts.py).
        self.breakouts = BreakoutDesk(
            node, store=BreakoutStore(database), tokens=tokens, attendance=attendance
        )
        self._effects.breakouts = self.breakouts.handle
        self.joined_hooks: list[Callable[[Connection], Awaitable[None]]] = [
            self._lobby_list,
            self._questions_snapshot,
            self.breakouts.after_welcome,
        ]
        #: Writes queued frames once per loop iteration (connections with a direct wire).
        self.flusher = node.flusher
        self._tasks: list[asyncio.Task[None]] = []
        self._per_address: dict[str, int] = {}
        self._draining = False

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def rooms(self) -> dict[str, LocalRoom]:
        """This node's rooms (read only: the hub's parts own them)."""
        return self._node.rooms

    def ice_servers(self, user_id: str) -> list[dict[str, Any]]:
        """The ICE servers (with fresh TURN credentials) for ``user_id``'s media connections."""
        return self._node.ice_servers(user_id)

    async def start(self) -> None:
        """Start the background tasks. Never fails for Redis: the bus listener subscribes
        (and re-subscribes after a loss) with backoff."""
        try:
            await self._bus.subscribe(self._bus.node_channel(self.node_id))
        except Exception as exc:
            log.warning("bus subscription failed at start (%r); will retry", exc)
        with contextlib.suppress(Exception):
            self._upkeep.epoch = await self._node.presence.epoch()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listener.listen(), name="hub-bus"),
            loop.create_task(self._every(self.settings.heartbeat_interval, self._heartbeat)),
            loop.create_task(self._every(self.settings.sweep_interval, self._sweep)),
            loop.create_task(self._every(self.settings.talk_flush_interval, self.talk.flush)),
        ]

    async def stop(self) -> None:
        """Drain (if not done yet) and stop the background tasks; waits for them to end."""
        await self.drain()
        with contextlib.suppress(Exception):
            await self.talk.flush()  # what the drained connections spoke
        tasks = [*self._tasks, *self._node.background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            await cancel_and_wait(task)
        self._tasks = []
        await self._upkeep.announcer.stop()
        await self._bus.close()

    async def drain(self, reason: str = "server going away") -> None:
        """Close every connection with 1001; their seats wait ``resume_grace`` for them."""
        if self._draining:
            return
        self._draining = True
        self.lobby.drain()
        conns = list(self._node.by_pid.values())
        for conn in conns:
            conn.close(close_codes.GOING_AWAY, reason)
        # Concurrently: each release renews the seat for the resume grace (a Redis round trip),
        # and the clients reconnect elsewhere meanwhile.
        await asyncio.gather(*(self._node.release(c) for c in conns), return_exceptions=True)
        if conns:
            # Bounded: a client that never answers the close must not hold the shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_CLOSE_TIMEOUT):
                    await asyncio.gather(*(c.closed.wait() for c in conns))

    @property
    def draining(self) -> bool:
        return self._draining

    def connection_count(self) -> int:
        return len(self._node.by_pid)

    def claim_address(self, address: str) -> bool:
        """Count one more connection from ``address``; False past the per-address cap."""
        count = self._per_address.get(address, 0)
        if count >= self.settings.max_connections_per_ip:
            return False
        self._per_address[address] = count + 1
        return True

    def release_address(self, address: str) -> None:
        count = self._per_address.get(address, 0) - 1
        if count > 0:
            self._per_address[address] = count
        else:
            self._per_address.pop(address, None)

    async def _every(self, interval: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub background job %s failed", getattr(job, "__name__", job))

    # -- connections ------------------------------------------------------------------------

    async def join(
        self,
        conn: Connection,
        token: str | None,
        *,
        resume: str | None = None,
        last_seq: int | None = None,
        receive: Receive | None = None,
    ) -> bool:
        """Admit ``conn`` or close it with the right code. True when admitted. A student of
        a class with its waiting room on waits first (``signaling/waiting_room.py``), which
        may take long: ``receive`` reads the client's frames meanwhile (None when it left).
        Whether they wait is part of the admission (no check of its own)."""
        if self._draining:
            self._refuse_draining(conn)
            return False
        outcome = await self._seating.join(
            conn, token, resume=resume, last_seq=last_seq, may_wait=True
        )
        if isinstance(outcome, Waiting):
            if not await self.lobby.wait(conn, outcome.grant, outcome.row, receive):
                return False
            if self._draining:
                self._refuse_draining(conn)
                return False
            # Let in: the ordinary admission (capacity, bans), no waiting again.
            outcome = await self._seating.join(conn, token, resume=resume, last_seq=last_seq)
        if outcome is not True:
            return False
        for hook in self.joined_hooks:
            try:
                await hook(conn)
            except Exception as exc:  # what it sends comes again with the next change or reload
                log.warning("after the welcome of %s: %r", conn.participant_id, exc)
        return True

    def _refuse_draining(self, conn: Connection) -> None:
        self._seating.refuse(conn, close_codes.GOING_AWAY, "draining", "this node is shutting down")

    async def _lobby_list(self, conn: Connection) -> None:
        if conn.grant is not None and conn.grant.can_moderate:
            await self.lobby.send_list(conn)

    async def _questions_snapshot(self, conn: Connection) -> None:
        await self.questions.send_snapshot(conn, self._node.rooms.get(conn.session_id))

    async def receive(self, conn: Connection, frame: str | bytes) -> None:
        """Handle one frame from ``conn``."""
        await self._effects.receive(conn, frame)

    async def disconnected(self, conn: Connection) -> None:
        """The connection's reader ended (the client went away or we closed it)."""
        await conn.stop()
        if conn.entry is None or self._node.by_pid.get(conn.participant_id) is not conn:
            return
        await self._node.release(conn)

    # -- for the REST side (api/actions.py) and the composition root -------------------------

    async def room_ended(self, session_id: str, reason: str) -> None:
        """Tell every node that the room ended: everyone gets ``room-ended`` and is closed."""
        await self._node.room_ended(session_id, reason)

    async def announce(
        self, session_id: str, *, joined: list[PresenceEntry], left: list[PresenceEntry]
    ) -> None:
        """Tell the room about presence changes made elsewhere (REST join and leave)."""
        await self._upkeep.announce(session_id, joined=joined, left=left)

    async def removed(
        self,
        session_id: str,
        entries: list[PresenceEntry],
        *,
        code: int,
        reason: str,
        message: dict[str, Any] | None = None,
    ) -> None:
        """``entries`` were removed from the room's presence by someone other than their
        connection (a REST leave, a kick, a purge): close the WebSocket connections among
        them on whichever node holds them (with ``code``, after ``message``), so nobody
        keeps a socket without a seat, and tell the room they left."""
        await self._upkeep.removed(session_id, entries, code=code, reason=reason, message=message)

    async def purged(self, session_id: str, entries: list[PresenceEntry]) -> None:
        """The presence's purge listener (:meth:`Presence.on_purged`; the composition root
        sets it): entries that expired, whoever purged them (this sweep, a join, a REST
        read), leave for good: their attendance is closed, a connection still holding one
        is closed with 1001 (reconnect), and the room is told."""
        await self._upkeep.purged(session_id, entries)

    # -- the background jobs, one step each (tests drive them directly) ----------------------

    async def _heartbeat(self) -> None:
        await self._upkeep.heartbeat()

    async def _sweep(self) -> None:
        await self._upkeep.sweep()

    def _on_direct(self, event: ForParticipant) -> None:
        self._listener.on_direct(event)

    @property
    def _early_direct(self) -> dict[str, list[ForParticipant]]:
        return self._node.early_direct
