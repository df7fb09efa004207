"""Joining and resuming: verify the room token, load the room, admit the participant
atomically in Redis, seat the connection, send its welcome and replay what a resume missed.

A refusal closes the connection with the protocol's close code (``close_codes.close_code_for``)
after an ``error`` message. A ``resume`` token from an earlier ``welcome`` keeps the participant
id and replays every reliable message after ``last_seq``; the others see no leave or join.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass, replace
from typing import Any

from rooms import errors
from rooms.access import needs_enrollment
from rooms.chat import ChatService
from rooms.ids import new_participant_id
from rooms.model import RoomRole
from rooms.participation import RoomAdmitter
from rooms.presence import Admission, MustWait, PresenceEntry, ResumeSave
from rooms.room_log import RoomLog
from rooms.session_lookup import is_enrolled
from rooms.store import Database
from rooms.store.tables import SessionRow
from rooms.tokens import RoomGrant, RoomTokens
from signaling import close_codes
from signaling.bus_listener import BusListener
from signaling.connection import Connection
from signaling.local_room import LocalRoom, RoomInfo
from signaling.messages import participant_view, welcome_message
from signaling.node import Node
from signaling.participant import ParticipantLogic
from signaling.presence_upkeep import PresenceUpkeep
from signaling.protocol import PROTOCOL_VERSION, error_message
from signaling.room_core import ReplayPlan, log_covers, plan_replay

__all__ = ["Seating", "Waiting", "room_info", "welcome_seq"]

log = logging.getLogger("liveclass.hub")


@dataclass(frozen=True, slots=True)
class _Admitted:
    """What admission established for a connection about to be seated."""

    row: SessionRow
    info: RoomInfo
    grant: RoomGrant
    entry: PresenceEntry
    admission: Admission
    resumed: bool
    token: str


@dataclass(frozen=True, slots=True)
class Waiting:
    """A join that must wait in the waiting room first (nothing was admitted): the verified
    grant and the room, for ``signaling/waiting_room.py``'s :meth:`Lobby.wait`."""

    grant: RoomGrant
    row: SessionRow


class Seating:
    """Admits connections into rooms and seats them (see the module's docstring)."""

    def __init__(
        self,
        node: Node,
        *,
        database: Database,
        admitter: RoomAdmitter,
        chat: ChatService,
        room_log: RoomLog,
        tokens: RoomTokens,
        upkeep: PresenceUpkeep,
        listener: BusListener,
    ) -> None:
        self._node = node
        self._presence = node.presence
        self._db = database
        self._admitter = admitter
        self._chat = chat
        self._log = room_log
        self._tokens = tokens
        self._upkeep = upkeep
        self._listener = listener

    async def join(
        self,
        conn: Connection,
        token: str | None,
        *,
        resume: str | None = None,
        last_seq: int | None = None,
        may_wait: bool = False,
    ) -> bool | Waiting:
        """Admit ``conn`` or close it with the right code. True when admitted.

        With ``may_wait``, a student (not a host, moderator or observer) who is not resuming
        a seated participant and whom the room's waiting room holds back gets :class:`Waiting`
        instead (``conn`` untouched, nothing admitted): the admission's own Redis round trip
        decides it, on the token this call verified."""
        node = self._node
        seating = ""
        try:
            grant = self._tokens.verify(token or "")
            row = await node.room_row(grant.session_id)
            if row is None or row.tenant_id != grant.tenant:
                raise errors.NotFound("no such room", code="room_not_found")
            info = room_info(row)
            await self._still_admitted(grant, row)
            entry, resumed = await self._resumable(grant, resume)
            may_wait = may_wait and not resumed and _may_wait(grant)
            if entry is None:
                entry = PresenceEntry(
                    participant_id=new_participant_id(),
                    user_id=grant.user_id,
                    name=grant.name,
                    role=grant.role,
                    source="ws",
                    node=node.node_id,
                    joined_at_ms=self._presence.now_ms(),
                )
            # From admission on, the room (the SFU) may address them before they are seated:
            # keep what comes for them until then (see BusListener.on_direct).
            seating = entry.participant_id
            node.early_direct[seating] = []
            # The connection's resume token is saved by the admission itself (one round trip).
            new_token = secrets.token_urlsafe(18)
            # Only a token that resumed this user's own participant is used up: presenting
            # someone else's must not revoke theirs.
            try:
                admission = await self._admitter.admit(
                    row,
                    entry,
                    node.settings.presence_ttl,
                    resume=ResumeSave(
                        new_token,
                        int(node.settings.resume_grace),
                        replaces=resume if resumed else None,
                    ),
                    may_wait=may_wait,
                )
            except MustWait:
                node.early_direct.pop(seating, None)
                return Waiting(grant, row)
        except errors.LiveclassError as exc:
            node.early_direct.pop(seating, None)
            code = close_codes.close_code_for(exc)
            self.refuse(conn, code, exc.code, exc.message)
            return False
        except Exception:
            node.early_direct.pop(seating, None)
            log.exception("join failed")
            self.refuse(
                conn, close_codes.TRY_AGAIN, "unavailable", "the room is unavailable; try again"
            )
            return False
        node.joining[entry.participant_id] = (row.id, entry)
        admitted = _Admitted(row, info, grant, entry, admission, resumed, new_token)
        try:
            await self.seat(conn, admitted, last_seq)
        except Exception:
            # Redis or the database failed half-way: free the seat, let the client retry.
            log.exception("join failed after admission")
            await self._unseat(conn, row.id, entry)
            return False
        finally:
            node.joining.pop(entry.participant_id, None)
            early = node.early_direct.pop(entry.participant_id, [])
        # Messages for them that came while they were being seated (the SFU's first offer
        # when the room's media opened meanwhile), after their welcome.
        for event in early:
            self._listener.on_direct(event)
        return True

    async def _unseat(self, conn: Connection, session_id: str, entry: PresenceEntry) -> None:
        pid = entry.participant_id
        self._node.forget(conn, session_id, pid)
        with contextlib.suppress(Exception):
            await self._admitter.depart(session_id, pid)
        conn.release()
        self.refuse(
            conn, close_codes.TRY_AGAIN, "unavailable", "the room is unavailable; try again"
        )

    async def seat(self, conn: Connection, admitted: _Admitted, last_seq: int | None) -> None:
        """Register an admitted connection and send its welcome (and replay); its resume
        token was saved by the admission."""
        node = self._node
        row, info, entry, admission = (
            admitted.row,
            admitted.info,
            admitted.entry,
            admitted.admission,
        )
        grant = admitted.grant
        resumed = admitted.resumed and admission.rejoined
        if admission.replaced is not None:
            await self._evict(admission.replaced)
        old = node.by_pid.get(entry.participant_id)
        if old is not None and old is not conn:
            # The same participant resumed on this node before we noticed the old one drop.
            old.close(close_codes.REPLACED, "replaced by a newer connection")
            await node.release(old)

        if not grant.can_publish and admission.publish_allowed:
            grant = replace(grant, can_publish=True)  # the host allowed it earlier
        logic = ParticipantLogic(
            entry.participant_id, grant, info.session_type, node.settings.rate_limits
        )
        conn.seat(row.id, entry, grant, logic, admitted.token)

        room = await self._local_room(info)
        replay = last_seq is not None and resumed
        # Nothing may reach the client before its welcome (and the replay after it): room
        # messages that arrive meanwhile wait.
        conn.hold()
        # What the room delivered here before this connection was registered, it never gets.
        expected = room.order.expected
        node.register(room, conn)
        conn.start()

        count, seats = admission.count, admission.seats
        roster = None
        if conn.sees_roster:
            snapshot = await self._presence.snapshot(row.id)
            roster = [participant_view(e) for e in snapshot.entries]
        elif count <= node.settings.roster_limit:
            # The room may have grown past the limit since admission (a join storm).
            visible = await self._presence.small_roster(
                row.id,
                node.settings.roster_limit,
                purge=False,  # the admission purged
            )
            if visible is not None:
                roster = [participant_view(e) for e in visible]
        seq = admission.seq
        if seq is None:
            seq = await self._chat.current_seq(row.id)
        seq = welcome_seq(seq, expected)
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
                ice_servers=node.ice_servers(entry.user_id),
                reload=reload,
            )
        )
        for message in missed:
            conn.send_first(message)
        conn.release()
        # (Expired entries the admission purged were announced by the purge listener.)
        gone = [admission.replaced] if admission.replaced is not None else []
        if not resumed or gone:
            await self._upkeep.announce(row.id, joined=[] if resumed else [entry], left=gone)

    async def _replay(
        self, session_id: str, last_seq: int, seq: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """The reliable messages after ``last_seq`` up to ``seq`` for a resume, and whether
        they are complete (see ``room_core.plan_replay``)."""
        plan = plan_replay(last_seq, seq, self._node.settings.outbox_frames)
        if plan is ReplayPlan.NOTHING:
            return [], True
        if plan is ReplayPlan.TOO_MUCH:
            return [], False
        if not log_covers(await self._log.oldest(session_id), last_seq):
            return [], False
        return await self._log.since(session_id, last_seq), True

    def refuse(self, conn: Connection, code: int, reason: str, message: str) -> None:
        """Close a connection that is not admitted, after an ``error`` message."""
        self._node.metrics.refused_joins.labels(reason).inc()
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
        return replace(entry, node=self._node.node_id, name=grant.name, source="ws"), True

    async def _local_room(self, info: RoomInfo) -> LocalRoom:
        node = self._node
        room = node.rooms.get(info.session_id)
        if room is None:
            first = await self._chat.current_seq(info.session_id)
            room = node.rooms.get(info.session_id)  # another join may have opened it
        if room is None:
            room = LocalRoom(info, node.settings.roster_limit, flusher=node.flusher)
            room.order.window = node.settings.reorder_window
            room.order.start_at(first)
            node.rooms[info.session_id] = room
            node.metrics.rooms.set(len(node.rooms))
            try:
                await node.bus.subscribe(node.bus.room_channel(info.session_id))
                room.subscribed = True
            finally:
                room.ready.set()
        return room

    async def _evict(self, entry: PresenceEntry) -> None:
        """Close the connection that ``entry`` was (replaced by a newer one)."""
        if entry.source != "ws":
            return
        await self._node.close_remote(
            entry,
            "",
            code=close_codes.REPLACED,
            reason="replaced by a newer connection",
            message=error_message("replaced", "you connected again elsewhere"),
        )


def welcome_seq(read: int, expected: int | None) -> int:
    """The ``seq`` a welcome gives: ``read``, the room's counter (read at admission, or
    after the connection was registered), raised below ``expected``, the next ``seq`` the
    room's order on this node was waiting for when the connection was registered. The
    reliable messages delivered here before then, which the connection never gets, are at
    or below it; every one above it reaches the connection."""
    return read if expected is None else max(read, expected - 1)


def _may_wait(grant: RoomGrant) -> bool:
    """Whether the waiting room may hold this grant back: hosts, moderators and observers
    never wait."""
    return grant.role is RoomRole.GUEST and not grant.can_moderate and not grant.hidden


def room_info(row: SessionRow) -> RoomInfo:
    return RoomInfo(
        session_id=row.id,
        tenant=row.tenant_id,
        room_name=row.room_name,
        title=row.title,
        status=row.status,
        capacity=row.max_participants,
        session_type=row.session_type,
    )
