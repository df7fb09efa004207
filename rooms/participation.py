"""Being in the room: REST join/leave for clients without WebSocket, and the live roster.

REST participants live in the same Redis presence as WebSocket ones, admitted by the same
atomic script (so capacity holds across both), but their seat is held only for
``rest_ttl_seconds``: a REST client calls join again to keep it (the call is idempotent and
returns the same participant), or leave to give it up. A join ``until_leave`` (the seat model
of clients that never renew, like the live-classes API) holds the seat until ``leave`` or the
end of the class instead: for ``hold_seconds``, the longest a class can last, after which
even a forgotten seat frees itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import select

from rooms.access import can_manage, room_role_for
from rooms.attendance import AttendanceService
from rooms.bans import Bans
from rooms.errors import Forbidden, NotFound
from rooms.identity import Principal
from rooms.ids import new_participant_id
from rooms.model import RoomRole
from rooms.presence import Admission, Presence, PresenceEntry, ResumeSave, RoomSnapshot
from rooms.presence.presence import RoomNotLoaded
from rooms.session_lookup import is_enrolled, load_session
from rooms.store import Database
from rooms.store.tables import AttendanceRow, SessionRow

__all__ = ["Participation", "RoomAdmitter", "Roster"]


@dataclass(frozen=True, slots=True)
class Roster:
    session: SessionRow
    snapshot: RoomSnapshot
    show_hidden: bool

    @property
    def entries(self) -> list[PresenceEntry]:
        return self.snapshot.entries if self.show_hidden else self.snapshot.visible


@dataclass(frozen=True, slots=True)
class Participation:
    session: SessionRow
    entry: PresenceEntry
    created: bool


class RoomAdmitter:
    """Admits entries into presence, reloading the room's state when Redis lost it, and keeps
    attendance in step with every admission, replacement and departure (purges: see
    :meth:`Presence.on_purged`)."""

    def __init__(
        self, database: Database, presence: Presence, attendance: AttendanceService
    ) -> None:
        self._db = database
        self._presence = presence
        self._attendance = attendance
        self._bans = Bans(database, presence)

    async def admit(
        self,
        session: SessionRow,
        entry: PresenceEntry,
        ttl: float,
        *,
        resume: ResumeSave | None = None,
        may_wait: bool = False,
    ) -> Admission:
        """Admit ``entry`` (saving ``resume``'s token with it, see :meth:`Presence.admit`;
        ``may_wait``: :class:`~rooms.presence.MustWait` when the user waits first)."""
        try:
            admission = await self._presence.admit(
                session.id, entry, ttl, resume=resume, may_wait=may_wait
            )
        except RoomNotLoaded:
            banned = await self._bans.banned_users(session.id)
            await self._presence.load_room(
                session.id, session.status, session.max_participants, banned
            )
            admission = await self._presence.admit(
                session.id, entry, ttl, resume=resume, may_wait=may_wait
            )
        # (Expired entries the admission purged were handed to the presence's listener.)
        if admission.replaced is not None:
            await self._attendance.closed(session.id, [admission.replaced])
        if not admission.rejoined:
            try:
                await self._attendance.opened(session.id, entry, tenant=session.tenant_id)
            except BaseException:
                # Not recorded, not admitted: the seat must not stay taken.
                with contextlib.suppress(Exception):
                    await self._presence.leave(session.id, entry.participant_id)
                raise
        return admission

    async def depart(self, session_id: str, participant_id: str) -> PresenceEntry | None:
        departure = await self._presence.leave(session_id, participant_id)
        if departure.entry is not None:
            await self._attendance.closed(session_id, [departure.entry])
        return departure.entry

    async def expire(self, session_id: str) -> None:
        """Drop the room's expired entries now (the presence's purge listener closes their
        attendance and tells the room)."""
        await self._presence.purge(session_id)

    async def snapshot(self, session: SessionRow) -> RoomSnapshot:
        """The room now, expired entries purged (and announced) first."""
        return await self._presence.snapshot(session.id)


class RestParticipation:
    """``POST /sessions/{id}/join`` and ``/leave`` and ``GET /participants``."""

    def __init__(
        self,
        database: Database,
        presence: Presence,
        admitter: RoomAdmitter,
        *,
        rest_ttl_seconds: float = 60.0,
        hold_seconds: float = 6 * 3600.0,
        node_id: str = "rest",
    ) -> None:
        self._db = database
        self._presence = presence
        self._admitter = admitter
        self._ttl = rest_ttl_seconds
        self._hold = max(hold_seconds, rest_ttl_seconds)
        self._node = node_id

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    async def admission(self, principal: Principal, ref: str) -> tuple[SessionRow, RoomRole]:
        """Session ``ref`` and the role ``principal`` has in its room (join and room tokens
        alike); :class:`Forbidden` ``not_enrolled`` when it admits enrolled users only."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            enrolled = await is_enrolled(tx, session.id, principal.user_id)
        role = room_role_for(principal, session, enrolled=enrolled)
        if role is None:
            raise Forbidden(
                "this session admits enrolled users only; enroll first", code="not_enrolled"
            )
        return session, role

    async def join(
        self, principal: Principal, ref: str, *, until_leave: bool = False
    ) -> Participation:
        """Take (or renew) the caller's seat: for ``ttl_seconds``, or ``until_leave``."""
        ttl = self._hold if until_leave else self._ttl
        session, role = await self.admission(principal, ref)
        current = await self._presence.participant_of(session.id, principal.user_id)
        if current is not None:
            existing = await self._presence.entry(session.id, current)
            if existing is not None and existing.source == "ws":
                # Already connected over WebSocket: a duplicate join returns that participant.
                return Participation(session, existing, created=False)
            if existing is not None:
                admission = await self._admitter.admit(session, existing, ttl)
                return Participation(session, admission.entry, created=False)
        entry = PresenceEntry(
            participant_id=new_participant_id(),
            user_id=principal.user_id,
            name=principal.name,
            role=role,
            source="rest",
            node=self._node,
            joined_at_ms=self._presence.now_ms(),
        )
        admission = await self._admitter.admit(session, entry, ttl)
        return Participation(session, admission.entry, created=not admission.rejoined)

    async def leave(self, principal: Principal, ref: str) -> Participation:
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
        current = await self._presence.participant_of(session.id, principal.user_id)
        entry = await self._admitter.depart(session.id, current) if current else None
        if entry is None:
            raise NotFound("you are not in this session's room", code="not_in_room")
        return Participation(session, entry, created=False)

    async def withdraw(self, principal: Principal, session_id: str) -> PresenceEntry | None:
        """After ``principal`` lost the right to be in the room (unenrolled from a session
        that admits enrolled users only): take them out of it now. Returns the entry
        removed (its attendance closed), or None when they were not in the room or may
        still be there."""
        async with self._db.transaction() as tx:
            session = await tx.get(SessionRow, session_id)
            enrolled = session is not None and await is_enrolled(tx, session_id, principal.user_id)
        if session is None or room_role_for(principal, session, enrolled=enrolled) is not None:
            return None
        current = await self._presence.participant_of(session_id, principal.user_id)
        return await self._admitter.depart(session_id, current) if current else None

    async def expire(self, principal: Principal, ref: str) -> None:
        """Close the attendance of seats that expired since anything last touched the room
        (so a report never shows an expired REST participant as still present)."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
        await self._admitter.expire(session.id)

    async def records(
        self, principal: Principal, ref: str
    ) -> tuple[SessionRow, list[AttendanceRow]]:
        """One record per join of the session's room, oldest first, ``left_at`` set once
        left (the live-classes seed's participant records); hidden observers' only for the
        instructor and admins. Expired seats are closed first, so none looks present."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
        await self._admitter.expire(session.id)
        query = select(AttendanceRow).where(AttendanceRow.session_id == session.id)
        if not can_manage(principal, session):
            query = query.where(AttendanceRow.role != RoomRole.OBSERVER.value)
        async with self._db.transaction() as tx:
            rows = await tx.execute(query.order_by(AttendanceRow.joined_at, AttendanceRow.id))
            return session, list(rows.scalars())

    async def roster(self, principal: Principal, ref: str) -> Roster:
        """Everyone in the room; hidden observers only for the instructor and admins."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
        snapshot = await self._admitter.snapshot(session)
        if snapshot.status is None:
            snapshot = RoomSnapshot(
                status=session.status, capacity=session.max_participants, entries=[]
            )
        return Roster(session, snapshot, show_hidden=can_manage(principal, session))
