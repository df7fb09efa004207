"""What one node holds: its settings, its local rooms and connections, and the few steps every
part of the hub shares (releasing a connection, reading a room's row, addressing the bus).

The hub's parts (``signaling/admission.py``, ``effects.py``, ``media_routing.py``,
``presence_upkeep.py``, ``bus_listener.py``) all work on one :class:`Node`; it is the one owner
of the maps below, so a connection is registered and forgotten in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from rooms.bus_events import (
    CloseParticipant,
    ForParticipant,
    RoomEndedEvent,
    RoomMessage,
    WaitingDecision,
)
from rooms.bus_port import Bus
from rooms.ice import IceServers
from rooms.presence import Presence, PresenceEntry
from rooms.protocol_models import WireMessage
from rooms.store import Database
from rooms.store.tables import SessionRow
from signaling import close_codes
from signaling.connection import Connection
from signaling.flush import Flusher
from signaling.local_room import LocalRoom
from signaling.metrics import HubMetrics
from signaling.participant import RateLimits
from signaling.protocol import Limits

__all__ = ["HubSettings", "Node", "new_node_id"]

#: How long a joining connection may reuse the session row another join just read.
ROW_REUSE_SECONDS = 2.0


def new_node_id() -> str:
    return f"{socket.gethostname()[:24]}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class HubSettings:
    """The hub's knobs (from ``LIVECLASS_*`` settings; see the README)."""

    presence_ttl: float = 10.0
    heartbeat_interval: float = 3.0
    sweep_interval: float = 2.0
    resume_grace: float = 20.0
    presence_tick: float = 0.2
    roster_limit: int = 50
    outbox_frames: int = 1024
    outbox_bytes: int = 4 << 20
    close_timeout: float = 5.0
    rate_limits: RateLimits = field(default_factory=RateLimits)
    limits: Limits = field(default_factory=Limits)
    allowed_origins: list[str] | None = None
    max_connections_per_ip: int = 2000
    #: ICE servers handed to each participant in their welcome (TURN credentials included).
    ice: IceServers = field(default_factory=IceServers)
    #: How long a room's reliable message waits for a missing earlier seq (ordering.py).
    reorder_window: float = 1.0
    #: Seconds between two writes of the talk time counted here (signaling/talk_time.py).
    talk_flush_interval: float = 15.0


class Node:
    """This node's rooms and connections, and the steps every part of the hub shares."""

    def __init__(
        self,
        *,
        node_id: str,
        settings: HubSettings,
        metrics: HubMetrics,
        clock: Callable[[], float],
        database: Database,
        presence: Presence,
        bus: Bus,
    ) -> None:
        self.node_id = node_id
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.presence = presence
        self.bus = bus
        self._db = database
        self.rooms: dict[str, LocalRoom] = {}
        self.by_pid: dict[str, Connection] = {}
        #: Entries admitted whose connection is not registered yet: heartbeated too.
        self.joining: dict[str, tuple[str, PresenceEntry]] = {}
        #: Bus events for participants admitted but not seated yet (see bus_listener.py).
        self.early_direct: dict[str, list[ForParticipant]] = {}
        self.background: set[asyncio.Task[None]] = set()
        #: Writes queued frames once per loop iteration (connections with a direct wire),
        #: and lets a room's fan-out on a quiet hub write at once (signaling/flush.py).
        self.flusher = Flusher()
        #: Handlers of bus event kinds for a tool's own connections (the waiting room's).
        #: Where the bus listener hands a host's decision on a waiter (signaling/waiting_room.py).
        self.waiting_decisions: Callable[[WaitingDecision], None] | None = None
        #: Called with the session id once a room ended (the waiting room sends its waiters
        #: home).
        self.end_hooks: list[Callable[[str], Awaitable[None]]] = []
        #: Called (synchronously) as a local connection is released (the talk time's).
        self.release_hooks: list[Callable[[Connection], None]] = []
        self._rows: dict[str, tuple[float, SessionRow]] = {}
        self._row_loads: dict[str, asyncio.Future[SessionRow | None]] = {}

    def ice_servers(self, user_id: str) -> list[dict[str, Any]]:
        """The ICE servers (with fresh TURN credentials) for ``user_id``'s media connections."""
        return self.settings.ice.for_user(user_id, self.clock())

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, owned by the hub (cancelled when it stops)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # -- connections ------------------------------------------------------------------------

    def register(self, room: LocalRoom, conn: Connection) -> None:
        """``conn`` (seated) is now the local connection of its participant in ``room``."""
        room.conns[conn.participant_id] = conn
        self.by_pid[conn.participant_id] = conn
        self.metrics.connections.set(len(self.by_pid))

    def forget(self, conn: Connection, session_id: str, pid: str) -> LocalRoom | None:
        """Forget ``conn`` as ``pid``'s connection (if it still is); returns its room."""
        if self.by_pid.get(pid) is conn:
            del self.by_pid[pid]
            self.metrics.connections.set(len(self.by_pid))
        room = self.rooms.get(session_id)
        if room is not None and room.conns.get(pid) is conn:
            del room.conns[pid]
        return room

    async def release(self, conn: Connection) -> None:
        """Forget a local connection; unless it left for good, its seat waits for a resume."""
        pid = conn.participant_id
        if self.by_pid.get(pid) is conn:
            for hook in self.release_hooks:
                hook(conn)
        room = self.forget(conn, conn.session_id, pid)
        if conn.close_code not in (
            close_codes.NORMAL,
            close_codes.REPLACED,
            close_codes.FORBIDDEN,
        ):
            with contextlib.suppress(Exception):
                await self.presence.refresh(conn.session_id, [pid], self.settings.resume_grace)
        # Another release may have removed the room while this one awaited Redis.
        if room is not None and not room.conns and self.rooms.get(room.session_id) is room:
            self.drop_room(room)
            with contextlib.suppress(Exception):
                await self.bus.unsubscribe(self.bus.room_channel(room.session_id))

    # -- rooms ------------------------------------------------------------------------------

    def drop_room(self, room: LocalRoom) -> None:
        """Forget a local room (its last connection went, or it ended)."""
        del self.rooms[room.session_id]
        self._rows.pop(room.session_id, None)
        self.metrics.rooms.set(len(self.rooms))

    def forget_row(self, session_id: str) -> None:
        """Read the room's row afresh next time."""
        self._rows.pop(session_id, None)

    async def room_row(self, session_id: str) -> SessionRow | None:
        """The session's row, reused for ``ROW_REUSE_SECONDS`` while the room is open here.

        A join storm would otherwise read the same row hundreds of times. A reused row is
        safe: admission (status, capacity, bans) is decided in Redis, not by the row; the row
        gives the tenant (fixed) and the room's description in ``welcome``.
        """
        now = time.monotonic()
        hit = self._rows.get(session_id)
        if hit is not None:
            if session_id in self.rooms and now - hit[0] < ROW_REUSE_SECONDS:
                return hit[1]
            del self._rows[session_id]
        loading = self._row_loads.get(session_id)
        if loading is None:
            # One read for a whole burst of joins that arrive before the room exists here.
            loading = asyncio.ensure_future(self._load(session_id))
            self._row_loads[session_id] = loading
            loading.add_done_callback(lambda _: self._row_loads.pop(session_id, None))
        row = await asyncio.shield(loading)
        if row is not None:
            self._rows[session_id] = (now, row)
        return row

    async def _load(self, session_id: str) -> SessionRow | None:
        try:
            async with self._db.transaction() as tx:
                return await tx.get(SessionRow, session_id)
        except ValueError:
            return None

    # -- the bus ----------------------------------------------------------------------------

    def room_message(self, session_id: str, message: WireMessage) -> RoomMessage:
        """A server message for everyone in the room, as a bus event."""
        return RoomMessage(session_id, message, self.node_id, sent_at=self.clock())

    async def close_remote(
        self,
        entry: PresenceEntry,
        session_id: str,
        *,
        code: int,
        reason: str,
        message: WireMessage | None,
    ) -> None:
        """Have whichever node holds ``entry``'s connection close it (after ``message``)."""
        event = CloseParticipant(
            session_id, entry.participant_id, code, reason, message, origin=self.node_id
        )
        await self.bus.publish_to_node(entry.node, event)

    async def room_ended(self, session_id: str, reason: str) -> None:
        """Tell every node that the room ended: everyone gets ``room-ended`` and is closed."""
        await self.bus.publish(RoomEndedEvent(session_id, reason, self.node_id))
        for hook in self.end_hooks:
            await hook(session_id)
