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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from rooms import errors
from rooms.access import needs_enrollment
from rooms.attendance import AttendanceService
from rooms.bans import Bans
from rooms.bus import BusEvent, RoomBus
from rooms.chat import ChatService, Sender
from rooms.ice import IceServers
from rooms.identity import Principal, UserRole
from rooms.ids import new_participant_id
from rooms.media_registry import MediaRegistry
from rooms.model import RoomRole
from rooms.participation import RoomAdmitter
from rooms.poll_store import PollStore
from rooms.presence import Admission, Presence, PresenceEntry, ResumeSave
from rooms.room_log import RoomLog
from rooms.sessions import SessionService, is_enrolled
from rooms.store import Database
from rooms.store.tables import ChatMessageRow, SessionRow
from rooms.tokens import RoomGrant, RoomTokens
from signaling import close_codes
from signaling.announce import PresenceAnnouncer
from signaling.connection import Connection
from signaling.flush import Flusher
from signaling.local_room import LocalRoom, RoomInfo
from signaling.messages import (
    chat_message,
    grants_message,
    hand_message,
    kicked_message,
    mute_request_message,
    participant_view,
    room_ended_message,
    sfu_restart_message,
    signal_message,
    welcome_message,
)
from signaling.metrics import HubMetrics
from signaling.participant import (
    AllowPublish,
    BroadcastHand,
    Close,
    EndRoom,
    KickParticipant,
    LeaveRoom,
    ParticipantLogic,
    PostChat,
    RateLimits,
    RelaySignal,
    Reply,
    RequestMute,
    State,
)
from signaling.protocol import (
    PROTOCOL_VERSION,
    Limits,
    ProtocolError,
    ack_message,
    decode,
    error_message,
)
from signaling.teaching import Teaching

__all__ = ["Hub", "HubSettings", "new_node_id"]

log = logging.getLogger("liveclass.hub")

#: How long a joining connection may reuse the session row another join just read.
ROW_REUSE_SECONDS = 2.0
#: How long a drain waits for its clients to complete the closing handshake.
DRAIN_CLOSE_TIMEOUT = 10.0


def new_node_id() -> str:
    return f"{socket.gethostname()[:24]}-{secrets.token_hex(4)}"


# Messages kept for a participant admitted but not seated yet (see _on_direct).
EARLY_DIRECT_LIMIT = 64


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
        bus: RoomBus,
        tokens: RoomTokens,
        settings: HubSettings | None = None,
        metrics: HubMetrics | None = None,
        clock: Callable[[], float] = time.time,
        media: MediaRegistry | None = None,
    ) -> None:
        self.node_id = node_id
        self._media = media
        self._db = database
        self._presence = presence
        self._admitter = admitter
        self._attendance = attendance
        self._chat = chat
        self._sessions = sessions
        self._log = room_log
        self._bus = bus
        self._tokens = tokens
        self._bans = Bans(database, presence)
        self.settings = settings or HubSettings()
        self.metrics = metrics or HubMetrics()
        self._clock = clock
        #: Writes queued frames once per loop iteration (connections with a direct wire).
        self.flusher = Flusher()
        self.rooms: dict[str, LocalRoom] = {}
        self._by_pid: dict[str, Connection] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._per_address: dict[str, int] = {}
        self._rows: dict[str, tuple[float, SessionRow]] = {}
        self._row_loads: dict[str, asyncio.Future[SessionRow | None]] = {}
        self._draining = False
        #: Redis's data epoch as last seen (``Presence.epoch``): a change means it lost
        #: everything, and this node re-asserts its participants.
        self._epoch: bytes | None = None
        #: Entries admitted whose connection is not registered yet: heartbeated too.
        self._joining: dict[str, tuple[str, PresenceEntry]] = {}
        self._early_direct: dict[str, list[BusEvent]] = {}
        #: While the bus is lost: each local room's highest delivered seq at the loss.
        self._catchup: dict[str, int] | None = None
        self._announcer = PresenceAnnouncer(self._publish_presence)
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

    # -- lifecycle --------------------------------------------------------------------------

    def ice_servers(self, user_id: str) -> list[dict[str, Any]]:
        """The ICE servers (with fresh TURN credentials) for ``user_id``'s media connections."""
        return self.settings.ice.for_user(user_id, self._clock())

    async def start(self) -> None:
        """Start the background tasks. Never fails for Redis: the bus listener subscribes
        (and re-subscribes after a loss) with backoff."""
        try:
            await self._bus.subscribe(self._bus.node_channel(self.node_id))
        except Exception as exc:
            log.warning("bus subscription failed at start (%r); will retry", exc)
        with contextlib.suppress(Exception):
            self._epoch = await self._presence.epoch()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen(), name="hub-bus"),
            loop.create_task(self._every(self.settings.heartbeat_interval, self._heartbeat)),
            loop.create_task(self._every(self.settings.sweep_interval, self._sweep)),
        ]

    async def stop(self) -> None:
        """Drain (if not done yet) and stop the background tasks; waits for them to end."""
        await self.drain()
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._announcer.stop()
        await self._bus.close()

    async def drain(self, reason: str = "server going away") -> None:
        """Close every connection with 1001; their seats wait ``resume_grace`` for them."""
        if self._draining:
            return
        self._draining = True
        conns = list(self._by_pid.values())
        for conn in conns:
            conn.close(close_codes.GOING_AWAY, reason)
        # Concurrently: each release renews the seat for the resume grace (a Redis round trip),
        # and the clients reconnect elsewhere meanwhile.
        await asyncio.gather(*(self._release(c) for c in conns), return_exceptions=True)
        if conns:
            # Bounded: a client that never answers the close must not hold the shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_CLOSE_TIMEOUT):
                    await asyncio.gather(*(c.closed.wait() for c in conns))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, owned by the hub (cancelled by :meth:`stop`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def draining(self) -> bool:
        return self._draining

    def connection_count(self) -> int:
        return len(self._by_pid)

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

    async def _every(self, interval: float, job: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub background job %s failed", getattr(job, "__name__", job))

    # -- joining ----------------------------------------------------------------------------

    async def join(
        self,
        conn: Connection,
        token: str | None,
        *,
        resume: str | None = None,
        last_seq: int | None = None,
    ) -> bool:
        """Admit ``conn`` or close it with the right code. True when admitted."""
        if self._draining:
            self._refuse(conn, close_codes.GOING_AWAY, "draining", "this node is shutting down")
            return False
        seating = ""
        try:
            grant = self._tokens.verify(token or "")
            row = await self._room_row(grant.session_id)
            if row is None or row.tenant_id != grant.tenant:
                raise errors.NotFound("no such room", code="room_not_found")
            info = _room_info(row)
            await self._still_admitted(grant, row)
            entry, resumed = await self._resumable(grant, resume)
            if entry is None:
                entry = PresenceEntry(
                    participant_id=new_participant_id(),
                    user_id=grant.user_id,
                    name=grant.name,
                    role=grant.role,
                    source="ws",
                    node=self.node_id,
                    joined_at_ms=self._presence.now_ms(),
                )
            # From admission on, the room (the SFU) may address them before they are seated:
            # keep what comes for them until then (see _on_direct).
            seating = entry.participant_id
            self._early_direct[seating] = []
            # The connection's resume token is saved by the admission itself (one round trip).
            token = secrets.token_urlsafe(18)
            # Only a token that resumed this user's own participant is used up: presenting
            # someone else's must not revoke theirs.
            admission = await self._admitter.admit(
                row,
                entry,
                self.settings.presence_ttl,
                resume=ResumeSave(
                    token, int(self.settings.resume_grace), replaces=resume if resumed else None
                ),
            )
        except errors.LiveclassError as exc:
            self._early_direct.pop(seating, None)
            code = close_codes.close_code_for(exc)
            self._refuse(conn, code, exc.code, exc.message)
            return False
        except Exception:
            self._early_direct.pop(seating, None)
            log.exception("join failed")
            self._refuse(
                conn, close_codes.TRY_AGAIN, "unavailable", "the room is unavailable; try again"
            )
            return False
        self._joining[entry.participant_id] = (row.id, entry)
        try:
            await self._seat(conn, row, info, grant, entry, admission, resumed, token, last_seq)
        except Exception:
            # Redis or the database failed half-way: free the seat, let the client retry.
            log.exception("join failed after admission")
            await self._unseat(conn, row.id, entry)
            return False
        finally:
            self._joining.pop(entry.participant_id, None)
            early = self._early_direct.pop(entry.participant_id, [])
        # Messages for them that came while they were being seated (the SFU's first offer
        # when the room's media opened meanwhile), after their welcome.
        for event in early:
            self._on_direct(event)
        return True

    async def _unseat(self, conn: Connection, session_id: str, entry: PresenceEntry) -> None:
        pid = entry.participant_id
        if self._by_pid.get(pid) is conn:
            del self._by_pid[pid]
            self.metrics.connections.set(len(self._by_pid))
        room = self.rooms.get(session_id)
        if room is not None and room.conns.get(pid) is conn:
            del room.conns[pid]
        with contextlib.suppress(Exception):
            await self._admitter.depart(session_id, pid)
        conn.release()
        self._refuse(
            conn, close_codes.TRY_AGAIN, "unavailable", "the room is unavailable; try again"
        )

    async def _seat(
        self,
        conn: Connection,
        row: SessionRow,
        info: RoomInfo,
        grant: RoomGrant,
        entry: PresenceEntry,
        admission: Admission,
        resumed: bool,
        token: str,
        last_seq: int | None,
    ) -> None:
        """Register an admitted connection and send its welcome (and replay); ``token`` is
        its resume token (the admission saved it)."""
        resumed = resumed and admission.rejoined
        if admission.replaced is not None:
            await self._evict(admission.replaced)
        old = self._by_pid.get(entry.participant_id)
        if old is not None and old is not conn:
            # The same participant resumed on this node before we noticed the old one drop.
            old.close(close_codes.REPLACED, "replaced by a newer connection")
            await self._release(old)

        if not grant.can_publish and admission.publish_allowed:
            grant = replace(grant, can_publish=True)  # the host allowed it earlier
        conn.session_id = row.id
        conn.entry = entry
        conn.grant = grant
        conn.sees_roster = grant.can_moderate or grant.hidden
        conn.logic = ParticipantLogic(
            entry.participant_id, grant, info.session_type, self.settings.rate_limits
        )
        conn.resume_token = token

        room = await self._local_room(info)
        replay = last_seq is not None and resumed
        # Nothing may reach the client before its welcome (and the replay after it): room
        # messages that arrive meanwhile wait.
        conn.hold()
        room.conns[entry.participant_id] = conn
        self._by_pid[entry.participant_id] = conn
        self.metrics.connections.set(len(self._by_pid))
        conn.start()

        count, seats = admission.count, admission.seats
        roster = None
        if conn.sees_roster:
            snapshot = await self._presence.snapshot(row.id)
            roster = [participant_view(e) for e in snapshot.entries]
        elif count <= self.settings.roster_limit:
            # The room may have grown past the limit since admission (a join storm).
            visible = await self._presence.small_roster(row.id, self.settings.roster_limit)
            if visible is not None:
                roster = [participant_view(e) for e in visible]
        seq = await self._chat.current_seq(row.id)
        missed: list[dict[str, Any]] = []
        reload = None
        if replay:
            missed, complete = await self._replay(row.id, last_seq or 0, seq)
            if not complete:
                # Too much, or no longer in the log: replaying it would overflow the send
                # queue (4008, and the client would resume into the same gap forever).
                reload = {"after": last_seq or 0, "through": seq}
        conn.send_first(
            welcome_message(
                participant=entry,
                room=info.view(),
                count=count,
                seats=seats,
                roster=roster,
                resume=conn.resume_token,
                seq=seq,
                grants=grant.grants(),
                resumed=resumed,
                protocol=PROTOCOL_VERSION,
                ice_servers=self.ice_servers(entry.user_id),
                reload=reload,
            )
        )
        for message in missed:
            conn.send_first(message)
        conn.release()
        # (Expired entries the admission purged were announced by the purge listener.)
        gone = [admission.replaced] if admission.replaced is not None else []
        if not resumed or gone:
            await self._announce(row.id, joined=[] if resumed else [entry], left=gone)

    async def _replay(
        self, session_id: str, last_seq: int, seq: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """The reliable messages after ``last_seq`` up to ``seq`` for a resume, and whether
        they are complete. Never more than half the send queue (the rest is for live
        messages), and only when the room's log still holds all of them."""
        if seq <= last_seq:
            return [], True
        if seq - last_seq > max(1, self.settings.outbox_frames // 2):
            return [], False
        oldest = await self._log.oldest(session_id)
        if oldest is None or oldest > last_seq + 1:
            return [], False
        return await self._log.since(session_id, last_seq), True

    def _refuse(self, conn: Connection, code: int, reason: str, message: str) -> None:
        self.metrics.refused_joins.labels(reason).inc()
        conn.start()
        conn.send_first(error_message(reason, message))
        conn.close(code, message[:120])

    async def _still_admitted(self, grant: RoomGrant, row: SessionRow) -> None:
        """A room token outlives what it was minted on: a guest of a session that admits
        enrolled users only must still be enrolled (unenrolling closes the door at once,
        not when the token expires). Bans are checked by the admission itself."""
        if grant.role is not RoomRole.GUEST or not needs_enrollment(row):
            return
        async with self._db.transaction() as tx:
            enrolled = await is_enrolled(tx, row.id, grant.user_id)
        if not enrolled:
            raise errors.Forbidden(
                "this session admits enrolled users only; enroll first", code="not_enrolled"
            )

    async def _resumable(
        self, grant: RoomGrant, resume: str | None
    ) -> tuple[PresenceEntry | None, bool]:
        """The entry a resume token brings back (same user, still present), if any."""
        if not resume:
            return None, False
        pid = await self._presence.resume_target(grant.session_id, resume)
        if pid is None:
            return None, False
        entry = await self._presence.entry(grant.session_id, pid)
        if entry is None or entry.user_id != grant.user_id:
            return None, False
        return replace(entry, node=self.node_id, name=grant.name, source="ws"), True

    async def _room_row(self, session_id: str) -> SessionRow | None:
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

    async def _local_room(self, info: RoomInfo) -> LocalRoom:
        room = self.rooms.get(info.session_id)
        if room is None:
            first = await self._chat.current_seq(info.session_id)
            room = self.rooms.get(info.session_id)  # another join may have opened it
        if room is None:
            room = LocalRoom(info, self.settings.roster_limit)
            room.order.window = self.settings.reorder_window
            room.order.start_at(first)
            self.rooms[info.session_id] = room
            self.metrics.rooms.set(len(self.rooms))
            await self._bus.subscribe(self._bus.room_channel(info.session_id))
        return room

    async def _evict(self, entry: PresenceEntry) -> None:
        """Close the connection that ``entry`` was (replaced by a newer one)."""
        if entry.source != "ws":
            return
        event = BusEvent(
            "close",
            "",
            self.node_id,
            message=error_message("replaced", "you connected again elsewhere"),
            to=entry.participant_id,
            data={"code": close_codes.REPLACED, "reason": "replaced by a newer connection"},
        )
        await self._bus.publish_to_node(entry.node, event)

    # -- receiving --------------------------------------------------------------------------

    async def receive(self, conn: Connection, frame: str | bytes) -> None:
        """Handle one frame from ``conn``."""
        logic = conn.logic
        if logic is None or not conn.is_open:
            return
        with conn.handling():
            await self._receive(conn, logic, frame)

    async def _receive(self, conn: Connection, logic: ParticipantLogic, frame: str | bytes) -> None:
        now = self._clock()
        try:
            message = decode(frame, conn.codec, self.settings.limits)
        except ProtocolError as exc:
            if exc.code == "unknown_type" and await self.teaching.receive(conn, frame):
                return  # a teaching tool's message (signaling/teaching.py)
            self.metrics.messages_in.labels("invalid").inc()
            effects = logic.refuse(exc)
        else:
            self.metrics.messages_in.labels(message.type).inc()
            effects = logic.handle(message, now)
        for effect in effects:
            try:
                await self._apply(conn, effect)
            except errors.RateLimited as exc:
                rid = getattr(effect, "rid", None)
                for follow in logic.limited(now, exc.message, rid):
                    await self._apply(conn, follow)
            except errors.LiveclassError as exc:
                conn.send(
                    error_message(
                        exc.code,
                        exc.message,
                        rid=getattr(effect, "rid", None),
                        details=exc.details,
                    )
                )
            except Exception as exc:
                # Redis or the database did not answer: the request failed, the connection
                # stays (the class goes on; the client may try again).
                log.warning("%s failed: %r", type(effect).__name__, exc)
                conn.send(
                    error_message(
                        "unavailable",
                        "a backing service is unavailable; it was not done, try again",
                        rid=getattr(effect, "rid", None),
                    )
                )

    async def _apply(self, conn: Connection, effect: object) -> None:
        assert conn.entry is not None
        assert conn.grant is not None
        sid, entry = conn.session_id, conn.entry
        if isinstance(effect, Reply):
            conn.send(effect.message)
        elif isinstance(effect, Close):
            self.metrics.closed.labels(str(effect.code)).inc()
            conn.close(effect.code, effect.reason)
        elif isinstance(effect, PostChat):
            await self._post_chat(conn, effect)
        elif isinstance(effect, RelaySignal):
            await self._relay_signal(conn, effect)
        elif isinstance(effect, BroadcastHand):
            seq = await self._chat.next_seq(sid)
            message = hand_message(seq, _sender_view(entry), effect.raised)
            await self._log.append(sid, seq, message)
            await self._bus.publish(self._msg(sid, message))
            conn.send(ack_message(effect.rid, seq=seq))
        elif isinstance(effect, RequestMute):
            target = await self._target(sid, effect.target)
            message = mute_request_message(effect.kind, _sender_view(entry))
            await self._direct(target, BusEvent("direct", sid, message=message))
            conn.send(ack_message(effect.rid))
        elif isinstance(effect, KickParticipant):
            await self._kick(conn, effect)
        elif isinstance(effect, AllowPublish):
            target = await self._target(sid, effect.target)
            # Kept in Redis too: the grant outlives this connection (a resume, a reload).
            await self._presence.allow_publish(sid, target.user_id, effect.publish)
            event = BusEvent("grant", sid, data={"publish": effect.publish})
            await self._direct(target, event)
            conn.send(ack_message(effect.rid))
        elif isinstance(effect, EndRoom):
            principal = Principal(
                user_id=conn.grant.user_id,
                name=conn.grant.name,
                role=UserRole.INSTRUCTOR,
                tenant=conn.grant.tenant,
            )
            transition = await self._sessions.end(principal, sid)
            await self._attendance.closed(sid, transition.removed)
            conn.send(ack_message(effect.rid))
            await self.room_ended(sid, "the host ended the class")
        elif isinstance(effect, LeaveRoom):
            # Acked once done: the seat is free and the leave recorded when the client hears.
            await self._admitter.depart(sid, entry.participant_id)
            await self._presence.drop_resume(sid, conn.resume_token)
            conn.send(ack_message(effect.rid))
            conn.close(close_codes.NORMAL, "left")
            await self._release(conn)
            await self._announce(sid, joined=[], left=[entry])

    async def _post_chat(self, conn: Connection, effect: PostChat) -> None:
        assert conn.entry is not None
        entry = conn.entry
        sender = Sender(entry.user_id, entry.name, entry.role)
        try:
            row = await self._chat.store(conn.session_id, sender, effect.text)
        except errors.LiveclassError:
            raise
        except Exception as exc:
            log.warning("chat not stored in %s: %r", conn.session_id, exc)
            raise errors.Unavailable(
                "the message could not be saved; it was not sent, try again",
                code="unavailable",
            ) from exc
        try:
            await self.publish_chat(row, participant_id=entry.participant_id)
        except Exception as exc:
            # Stored is accepted: every node catches up from the store when its bus is back.
            log.warning("stored chat %s not published yet: %r", row.seq, exc)
        conn.send(ack_message(effect.rid, id=row.id, seq=row.seq))

    async def publish_chat(
        self, row: ChatMessageRow, *, participant_id: str | None = None
    ) -> dict[str, Any]:
        """Log and broadcast a stored chat message (also for messages posted over REST)."""
        sender = {
            "id": participant_id or row.user_id,
            "userId": row.user_id,
            "name": row.user_name,
            "role": row.role,
        }
        message = chat_message(
            id=row.id, seq=row.seq, sender=sender, text=row.text, ts=row.created_at
        )
        await self._log.append(row.session_id, row.seq, message)
        await self._bus.publish(self._msg(row.session_id, message))
        return message

    async def _relay_signal(self, conn: Connection, effect: RelaySignal) -> None:
        sid = conn.session_id
        if effect.to == "sfu":
            await self._to_media(conn, effect)
            return
        target = await self._target(sid, effect.to)
        message = signal_message(conn.participant_id, effect.kind, effect.payload)
        await self._direct(target, BusEvent("direct", sid, message=message))
        if effect.rid is not None:
            conn.send(ack_message(effect.rid))

    async def _to_media(self, conn: Connection, effect: RelaySignal) -> None:
        """Hand a signal for the SFU to the media worker concerned; its answers come back as
        ``direct`` events. Publishing (an offer, an unpublish, or ICE for the publishing
        connection) goes to the room's origin worker (placing it on the least-loaded first);
        receiving (answers, ICE for the receiving connection) to the worker the participant
        is assigned to, which in a big room may be a relay; ICE without a target, and a
        client's ``restart``, to both."""
        assert conn.entry is not None
        assert conn.grant is not None
        sid, pid = conn.session_id, conn.entry.participant_id
        origin = await self._media.place(sid) if self._media else None
        if origin is None or self._media is None:
            raise errors.Unavailable(
                "no media worker is available for this room", code="sfu_unavailable"
            )
        room = self.rooms.get(sid)
        if room is not None and room.media_origin is None:
            room.media_origin = origin
        target = effect.payload.get("target")
        workers = {origin}
        if effect.kind == "restart":
            assigned = await self._media.assignment(sid, pid)
            workers = {origin} if assigned is None else {origin, assigned}
        elif effect.kind not in ("offer", "unpublish", "mute") and target != "publisher":
            assigned = await self._media.assignment(sid, pid)
            if assigned is not None:
                workers = (
                    {assigned}
                    if target == "subscriber" or effect.kind == "answer"
                    else {
                        origin,
                        assigned,
                    }
                )
        event = BusEvent(
            "sfu",
            sid,
            self.node_id,
            data={
                "participant": pid,
                "user": conn.entry.user_id,
                "role": conn.entry.role.value,
                "publish": conn.grant.can_publish,
                "kind": effect.kind,
                **effect.payload,
            },
        )
        # the origin last: what it does in turn (serve a restarting participant through their
        # relay) must reach the relay after this event
        for worker in sorted(workers, key=lambda w: w == origin):
            await self._bus.publish_to(self._media.worker_channel(worker), event)
        if effect.rid is not None:
            conn.send(ack_message(effect.rid))

    async def _unpublish(self, conn: Connection) -> None:
        """The host withdrew a participant's publish grant: the room's worker (if any) stops
        forwarding what they send."""
        if self._media is None or conn.entry is None:
            return
        try:
            worker = await self._media.worker_of(conn.session_id)
            if worker is None:
                return
            event = BusEvent(
                "sfu",
                conn.session_id,
                self.node_id,
                data={"participant": conn.entry.participant_id, "kind": "unpublish"},
            )
            await self._bus.publish_to(self._media.worker_channel(worker), event)
        except Exception as exc:  # Redis trouble: the publication ends when they leave
            log.warning("could not stop a withdrawn publication: %r", exc)

    async def _kick(self, conn: Connection, effect: KickParticipant) -> None:
        sid = conn.session_id
        target = await self._target(sid, effect.target)
        assert conn.grant is not None
        departure = await self._bans.ban(
            sid,
            target.user_id,
            user_name=target.name,
            banned_by=conn.grant.user_id,
            reason=effect.reason,
        )
        if departure.entry is not None:
            await self._attendance.closed(sid, [departure.entry])
        # A REST participant is banned and removed just the same: it has no socket to close.
        await self.removed(
            sid,
            [departure.entry or target],
            code=close_codes.FORBIDDEN,
            reason="kicked",
            message=kicked_message(effect.reason),
        )
        conn.send(ack_message(effect.rid))

    async def _target(self, session_id: str, participant_id: str) -> PresenceEntry:
        entry = await self._presence.entry(session_id, participant_id)
        if entry is None:
            raise errors.NotFound("no such participant in this room", code="participant_not_found")
        return entry

    async def _direct(self, target: PresenceEntry, event: BusEvent) -> None:
        event.to = target.participant_id
        event.origin = self.node_id
        if target.source != "ws":
            raise errors.Conflict(
                "that participant is not connected over WebSocket", code="not_connected"
            )
        await self._bus.publish_to_node(target.node, event)

    def _msg(self, session_id: str, message: dict[str, Any], audience: str = "all") -> BusEvent:
        return BusEvent(
            "msg",
            session_id,
            self.node_id,
            message=message,
            audience=audience,
            data={"ts": self._clock()},
        )

    # -- leaving ----------------------------------------------------------------------------

    async def disconnected(self, conn: Connection) -> None:
        """The connection's reader ended (the client went away or we closed it)."""
        await conn.stop()
        if conn.entry is None or self._by_pid.get(conn.participant_id) is not conn:
            return
        await self._release(conn)

    async def _release(self, conn: Connection) -> None:
        """Forget a local connection; unless it left for good, its seat waits for a resume."""
        pid = conn.participant_id
        if self._by_pid.get(pid) is conn:
            del self._by_pid[pid]
            self.metrics.connections.set(len(self._by_pid))
        room = self.rooms.get(conn.session_id)
        if room is not None and room.conns.get(pid) is conn:
            del room.conns[pid]
        if conn.close_code not in (
            close_codes.NORMAL,
            close_codes.REPLACED,
            close_codes.FORBIDDEN,
        ):
            with contextlib.suppress(Exception):
                await self._presence.refresh(conn.session_id, [pid], self.settings.resume_grace)
        # Another release may have removed the room while this one awaited Redis.
        if room is not None and not room.conns and self.rooms.get(room.session_id) is room:
            del self.rooms[room.session_id]
            self._rows.pop(room.session_id, None)
            self.metrics.rooms.set(len(self.rooms))
            with contextlib.suppress(Exception):
                await self._bus.unsubscribe(self._bus.room_channel(room.session_id))

    async def room_ended(self, session_id: str, reason: str) -> None:
        """Tell every node that the room ended: everyone gets ``room-ended`` and is closed."""
        await self._bus.publish(
            BusEvent("ended", session_id, self.node_id, data={"reason": reason})
        )

    # -- presence ---------------------------------------------------------------------------

    async def _announce(
        self,
        session_id: str,
        *,
        joined: list[PresenceEntry],
        left: list[PresenceEntry],
    ) -> None:
        """Publish presence changes to every node (coalesced with the room's others that
        arrive meanwhile: one bus event for a whole join storm's batch)."""
        await self._announcer.announce(session_id, joined, left)

    async def _publish_presence(
        self, session_id: str, joined: list[PresenceEntry], left: list[PresenceEntry]
    ) -> None:
        event = BusEvent(
            "presence",
            session_id,
            self.node_id,
            data={
                "joined": [participant_view(e) for e in joined],
                "left": [participant_view(e) for e in left],
                "hidden": [e.participant_id for e in joined + left if e.hidden],
            },
        )
        await self._bus.publish(event)

    async def announce(
        self, session_id: str, *, joined: list[PresenceEntry], left: list[PresenceEntry]
    ) -> None:
        """Tell the room about presence changes made elsewhere (REST join and leave)."""
        await self._announce(session_id, joined=joined, left=left)

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
        if not entries:
            return
        for entry in entries:
            if entry.source != "ws":
                continue
            event = BusEvent(
                "close",
                session_id,
                self.node_id,
                message=message,
                to=entry.participant_id,
                data={"code": code, "reason": reason},
            )
            await self._bus.publish_to_node(entry.node, event)
        await self._announce(session_id, joined=[], left=entries)

    def _schedule_tick(self, room: LocalRoom) -> None:
        if room.tick_scheduled:
            return
        room.tick_scheduled = True
        asyncio.get_running_loop().call_later(
            self.settings.presence_tick,
            lambda: self._spawn(self._tick(room.session_id)),
        )

    async def _tick(self, session_id: str) -> None:
        room = self.rooms.get(session_id)
        if room is None:
            return
        room.tick_scheduled = False
        try:
            count, seats = await self._presence.tally(session_id)
        except Exception as exc:
            log.warning("presence tally of %s failed: %r", session_id, exc)
            self._schedule_tick(room)
            return
        self.metrics.messages_out.inc(room.flush_presence(count, seats))

    async def _heartbeat(self) -> None:
        epoch = await self._presence.epoch()
        if self._epoch is not None and epoch != self._epoch:
            log.warning("Redis lost its data (restarted?): re-asserting this node's presence")
            await self._reassert()
        self._epoch = epoch
        joining: dict[str, list[str]] = {}
        for sid, entry in list(self._joining.values()):
            joining.setdefault(sid, []).append(entry.participant_id)
        for sid, pids in joining.items():
            await self._presence.refresh(sid, pids, self.settings.presence_ttl)
        for room in list(self.rooms.values()):
            # Not those leaving: their entry is being removed, and their ack comes first.
            pids = [
                pid
                for pid, c in room.conns.items()
                if c.is_open and (c.logic is None or c.logic.state is State.OPEN)
            ]
            missing = await self._presence.refresh(
                room.session_id, pids, self.settings.presence_ttl
            )
            if not missing:
                continue
            # Removed by someone else; whoever did also sent the close, but it may still be
            # on its way: close with the code the removal means, not a blind 1001.
            reasons = await self._presence.gone(room.session_id, missing)
            for pid, reason in reasons.items():
                conn = room.conns.get(pid)
                if conn is not None:
                    code, why, message = _close_for_gone(reason)
                    if message is not None:
                        conn.send(message)
                    self.metrics.closed.labels(str(code)).inc()
                    conn.close(code, why)
                    await self._release(conn)

    async def _reassert(self) -> None:
        """Put this node's participants back into an empty Redis: each room's state from the
        store, every local entry re-admitted (no attendance change: they never left), resume
        tokens and publish permissions saved again and the sequence counter above anything
        delivered. A participant the room no longer admits (it ended, or its seat went to
        someone else meanwhile) is closed with the refusal's code."""
        for room in list(self.rooms.values()):
            sid = room.session_id
            self._rows.pop(sid, None)
            row = await self._room_row(sid)
            if row is None:
                continue
            banned = await self._bans.banned_users(sid)
            await self._presence.load_room(sid, row.status, row.max_participants, banned)
            await self._chat.reseed(sid, room.last_seq)
            for conn in list(room.conns.values()):
                if conn.entry is None or not conn.is_open:
                    continue
                resume = ResumeSave(conn.resume_token, int(self.settings.resume_grace))
                try:
                    await self._presence.admit(
                        sid, conn.entry, self.settings.presence_ttl, resume=resume
                    )
                except errors.LiveclassError as exc:
                    conn.send_first(error_message(exc.code, exc.message))
                    conn.close(close_codes.close_code_for(exc), exc.message[:120])
                    await self._release(conn)
                    continue
                grant = conn.grant
                if grant is not None and grant.can_publish and not grant.can_moderate:
                    await self._presence.allow_publish(sid, grant.user_id, True)
        for sid, entry in list(self._joining.values()):
            with contextlib.suppress(errors.LiveclassError):
                await self._presence.admit(sid, entry, self.settings.presence_ttl)

    async def _catch_up(self, marks: dict[str, int]) -> None:
        """After the bus was lost: send each local room what it missed meanwhile, from the
        room's log in Redis and from the store (chat), skipping what did arrive."""
        for sid, mark in marks.items():
            room = self.rooms.get(sid)
            if room is None:
                continue
            missed: dict[int, dict[str, Any]] = {}
            with contextlib.suppress(Exception):
                for message in await self._log.since(sid, mark):
                    missed[int(message["seq"])] = message
            for row in await self._chat.since(sid, mark):
                if row.seq not in missed:
                    sender = {
                        "id": row.user_id,
                        "userId": row.user_id,
                        "name": row.user_name,
                        "role": row.role,
                    }
                    missed[row.seq] = chat_message(
                        id=row.id, seq=row.seq, sender=sender, text=row.text, ts=row.created_at
                    )
            delivered = set(room.recent_seqs)
            for seq in sorted(missed):
                if seq not in delivered:
                    self.metrics.messages_out.inc(room.fan_out(missed[seq]))
            room.order.skip_to(room.last_seq)

    async def _sweep(self) -> None:
        for room in list(self.rooms.values()):
            # What expired goes to :meth:`purged` (the presence's purge listener).
            await self._presence.purge(room.session_id)
        await self._check_media()

    async def purged(self, session_id: str, entries: list[PresenceEntry]) -> None:
        """The presence's purge listener (:meth:`Presence.on_purged`; the composition root
        sets it): entries that expired, whoever purged them (this sweep, a join, a REST
        read), leave for good: their attendance is closed, a connection still holding one
        is closed with 1001 (reconnect), and the room is told."""
        await self._attendance.closed(session_id, entries)
        await self.removed(
            session_id, entries, code=close_codes.GOING_AWAY, reason="presence lost; reconnect"
        )

    async def _check_media(self) -> None:
        """Media workers die too. When a room's origin worker is dead, move the room to a live
        one and tell this node's participants to negotiate again (``signal`` ``restart`` from
        ``sfu``: publishers re-offer to the new origin, which then offers everyone the room's
        media). When a relay worker is dead, its participants here are told the same, and the
        origin serves them again (from itself or another relay)."""
        if self._media is None or not self.rooms:
            return
        origins = await self._media.workers_of(list(self.rooms))
        placed = {sid: worker for sid, worker in origins.items() if worker is not None}
        if not placed:
            return
        alive = set(await self._media.alive())
        for sid, origin in placed.items():
            room = self.rooms.get(sid)
            if room is None:
                continue
            if origin not in alive:
                moved = await self._media.place(sid)
                log.warning("media worker %s of room %s is gone; moved to %s", origin, sid, moved)
                origin = moved or origin
            seen, room.media_origin = room.media_origin, origin
            if seen is not None and seen != origin:
                room.fan_out(sfu_restart_message("worker_lost"))
                # Another node may have moved the room and its publishers already re-offered:
                # then the new origin has offered our participants the room's media on the
                # connections they are about to drop. Queued after the restart, this makes
                # it offer them anew (ignored if the room is not open there yet: it offers
                # everyone once it opens).
                for pid in list(room.conns):
                    await self._resubscribe_at(origin, sid, pid)
                continue
            dead_relays = await self._media.relays(sid) - alive
            if not dead_relays:
                continue
            assigned = await self._media.assignments(sid, list(room.conns))
            for pid, worker in assigned.items():
                conn = room.conns.get(pid)
                if worker not in dead_relays or conn is None:
                    continue
                conn.send(sfu_restart_message("worker_lost"))
                await self._resubscribe_at(origin, sid, pid)

    async def _resubscribe_at(self, worker: str, sid: str, pid: str) -> None:
        """Ask a room's origin worker to offer ``pid`` the room's media anew (they were told
        to restart, so whatever it offered them before is lost)."""
        assert self._media is not None
        event = BusEvent("sfu", sid, self.node_id, data={"participant": pid, "kind": "resubscribe"})
        await self._bus.publish_to(self._media.worker_channel(worker), event)

    # -- the bus ----------------------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                async for _channel, event in self._bus.events():
                    backoff = 0.1
                    try:
                        self._on_event(event)
                    except Exception:
                        log.exception("bus event %s failed", event.kind)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus connection lost (%r); reconnecting", exc)
                if self._catchup is None:
                    self._catchup = {sid: room.last_seq for sid, room in self.rooms.items()}
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                if await self._resubscribe() and self._catchup is not None:
                    try:
                        await self._catch_up(self._catchup)
                        self._catchup = None
                    except Exception as exc:
                        log.warning("catching up after a bus loss failed (%r); will retry", exc)

    async def _resubscribe(self) -> bool:
        with contextlib.suppress(Exception):
            await self._bus.close()
        channels = [self._bus.node_channel(self.node_id)] + [
            self._bus.room_channel(sid) for sid in self.rooms
        ]
        try:
            await self._bus.subscribe(*channels)
        except Exception as exc:
            # events() raises on the unsubscribed connection; the loop backs off and retries.
            log.warning("bus subscription failed (%r); will retry", exc)
            return False
        return True

    def _on_event(self, event: BusEvent) -> None:
        kind = event.kind
        if kind in ("direct", "close", "grant"):
            self._on_direct(event)
            return
        room = self.rooms.get(event.session_id)
        if room is None:
            return
        if kind == "msg" and event.message is not None:
            if event.audience == "all" and event.exclude is None:
                # Reliable messages in seq order, whatever order their publishers reached
                # the bus in.
                delivered = 0
                for message in room.order.push(event.message, self._clock()):
                    delivered += room.fan_out(message)
                self._schedule_order(room)
            else:
                delivered = room.fan_out(
                    event.message, audience=event.audience, exclude=event.exclude
                )
            self.metrics.messages_out.inc(delivered)
            sent_at = event.data.get("ts")
            if isinstance(sent_at, int | float):
                self.metrics.fanout_latency.observe(max(0.0, self._clock() - sent_at))
        elif kind == "presence":
            room.note_presence(
                event.data.get("joined", []),
                event.data.get("left", []),
                event.data.get("hidden", []),
            )
            self._schedule_tick(room)
        elif kind == "ended":
            message = room_ended_message(str(event.data.get("reason", "the class ended")))
            room.fan_out(message)
            for conn in list(room.conns.values()):
                conn.close(close_codes.NORMAL, "room ended")
            for conn in list(room.conns.values()):
                self._by_pid.pop(conn.participant_id, None)
            room.conns.clear()
            del self.rooms[room.session_id]
            self._rows.pop(room.session_id, None)
            self.metrics.rooms.set(len(self.rooms))
            self.metrics.connections.set(len(self._by_pid))
            self._spawn(self._bus.unsubscribe(self._bus.room_channel(event.session_id)))

    def _schedule_order(self, room: LocalRoom) -> None:
        """Messages wait for a gap in the seq: send them anyway at the window's end."""
        deadline = room.order.deadline
        if deadline is None or room.order_timer is not None:
            return

        def expire() -> None:
            room.order_timer = None
            if self.rooms.get(room.session_id) is not room:
                return
            for message in room.order.expire(self._clock()):
                self.metrics.messages_out.inc(room.fan_out(message))
            self._schedule_order(room)

        delay = max(0.0, deadline - self._clock())
        room.order_timer = asyncio.get_running_loop().call_later(delay, expire)

    def _on_direct(self, event: BusEvent) -> None:
        conn = self._by_pid.get(event.to or "")
        if conn is None:
            early = self._early_direct.get(event.to or "")
            if early is not None and len(early) < EARLY_DIRECT_LIMIT:
                early.append(event)  # being admitted or seated: delivered once seated
            return
        if event.kind == "direct" and event.message is not None:
            conn.send(event.message)
        elif event.kind == "close":
            if event.message is not None:
                conn.send(event.message)
            code = int(event.data.get("code", close_codes.NORMAL))
            self.metrics.closed.labels(str(code)).inc()
            conn.close(code, str(event.data.get("reason", "")))
            self._spawn(self._release(conn))
        elif event.kind == "grant" and conn.grant is not None and conn.logic is not None:
            grant = replace(conn.grant, can_publish=bool(event.data.get("publish")))
            conn.grant = grant
            conn.logic.update_grant(grant)
            conn.send(grants_message(grant.grants()))
            if not grant.can_publish:
                self._spawn(self._unpublish(conn))


def _close_for_gone(reason: str) -> tuple[int, str, dict[str, Any] | None]:
    """The close (code, reason, last message) for a connection whose presence entry was
    removed for ``reason`` (see :meth:`Presence.gone`)."""
    if reason == "replaced":
        message = error_message("replaced", "you connected again elsewhere")
        return close_codes.REPLACED, "replaced by a newer connection", message
    if reason == "left":
        return close_codes.NORMAL, "left", None
    if reason == "banned":
        return close_codes.FORBIDDEN, "kicked", kicked_message(None)
    if reason == "ended":
        return close_codes.NORMAL, "room ended", room_ended_message("the class ended")
    # Purged as expired (this node looked dead), or not known: reconnect to rejoin.
    return close_codes.GOING_AWAY, "presence lost; reconnect", None


def _room_info(row: SessionRow) -> RoomInfo:
    return RoomInfo(
        session_id=row.id,
        tenant=row.tenant_id,
        room_name=row.room_name,
        title=row.title,
        status=row.status,
        capacity=row.max_participants,
        session_type=row.session_type,
    )


def _sender_view(entry: PresenceEntry) -> dict[str, Any]:
    return {
        "id": entry.participant_id,
        "userId": entry.user_id,
        "name": entry.name,
        "role": entry.role.value,
    }
