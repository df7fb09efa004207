"""Attendance: every join and leave, written to the store; watch time derives from it.

A row opens when a participant enters the room (WebSocket or REST) and closes when it leaves,
is replaced, kicked, expires, or the session ends. Watch time is the sum of a user's closed
intervals (an open one counts up to now); a user attended when they were in the room as a
guest for at least ``min_attended_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.access import can_manage
from rooms.errors import Forbidden
from rooms.futures import cancel_and_wait
from rooms.identity import Principal
from rooms.ids import new_id
from rooms.presence import PresenceEntry
from rooms.session_lookup import load_session
from rooms.store import Database
from rooms.store.availability import database_unavailable
from rooms.store.group_commit import GroupCommit
from rooms.store.tables import AttendanceRow, SessionRow
from rooms.store.types import utcnow
from rooms.webhooks import EventType, enqueue
from rooms.webhooks.events import entry_data, participant_data

__all__ = ["AttendanceReport", "AttendanceService", "UserAttendance", "is_unavailable"]

log = logging.getLogger("liveclass.attendance")


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database did not answer (not that a statement was wrong)."""
    return database_unavailable(exc)


@dataclass(slots=True)
class UserAttendance:
    user_id: str
    name: str
    role: str
    intervals: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    watch_seconds: float = 0.0
    attended: bool = False

    @property
    def first_joined(self) -> datetime:
        return self.intervals[0][0]

    @property
    def last_left(self) -> datetime | None:
        return self.intervals[-1][1]


@dataclass(frozen=True, slots=True)
class AttendanceReport:
    session: SessionRow
    users: list[UserAttendance]

    @property
    def attended_count(self) -> int:
        return sum(1 for u in self.users if u.attended)


_TENANTS_KEY = "liveclass.attendance.tenants"


def _class_and_breakouts(session_id: str) -> Select[str]:
    """The ids of a class and of its breakout rooms (rooms/breakout_store.py)."""
    return select(SessionRow.id).where(
        or_(SessionRow.id == session_id, SessionRow.parent_id == session_id)
    )


async def _tenant_of(tx: AsyncSession, session_id: str) -> str | None:
    """The session's tenant, read once per transaction: a group commit of a join storm
    announces hundreds of attendance rows of one session in one transaction."""
    cache: dict[str, str | None] = tx.info.setdefault(_TENANTS_KEY, {})
    if session_id not in cache:
        cache[session_id] = await tx.scalar(
            select(SessionRow.tenant_id).where(SessionRow.id == session_id)
        )
    return cache[session_id]


class AttendanceService:
    def __init__(self, database: Database, *, min_attended_seconds: float = 0.0) -> None:
        self._db = database
        self._min_attended = min_attended_seconds
        # Core inserts: a join storm commits hundreds of rows, and nothing reads them back.
        self._opens = GroupCommit(database, core=True)
        #: Leaves the database could not take yet (it was unreachable), with their times.
        self._pending: list[tuple[str, list[str], datetime]] = []
        self._retry: asyncio.Task[None] | None = None
        self.retry_interval = 1.0

    async def opened(
        self, session_id: str, entry: PresenceEntry, *, tenant: str | None = None
    ) -> None:
        """Record that ``entry`` entered the room, with its participant.joined webhook
        (committed with the others of a join storm). ``tenant``: the session's, when the
        caller has its row (else it is read in the commit)."""
        now = utcnow()
        row = AttendanceRow(
            id=new_id(),
            session_id=session_id,
            participant_id=entry.participant_id,
            user_id=entry.user_id,
            user_name=entry.name,
            role=entry.role.value,
            source=entry.source,
            joined_at=now,
        )

        async def announce(tx: AsyncSession) -> None:
            owner = tenant if tenant is not None else await _tenant_of(tx, session_id)
            if owner is not None:
                data = entry_data(session_id, entry, now)
                await enqueue(tx, owner, EventType.PARTICIPANT_JOINED, data)

        await self._opens.add(row, then=announce)

    async def closed(self, session_id: str, entries: Iterable[PresenceEntry]) -> None:
        """Record that ``entries`` left the room (left, replaced, kicked or expired), with a
        participant.left webhook for each attendance actually closed here (never twice)."""
        ids = [e.participant_id for e in entries]
        if not ids:
            return
        now = utcnow()
        try:
            await self._close(session_id, ids, now)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            # Leaving never fails for the database: the leave is kept (with its time) and
            # written as soon as the database answers again.
            log.warning("database unavailable; %d leave(s) queued (%r)", len(ids), exc)
            self._pending.append((session_id, ids, now))
            if self._retry is None:
                self._retry = asyncio.get_running_loop().create_task(self._write_pending())

    @property
    def pending(self) -> int:
        """Leaves waiting for the database."""
        return sum(len(ids) for _, ids, _ in self._pending)

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(self.retry_interval)
                while self._pending:
                    session_id, ids, at = self._pending[0]
                    try:
                        await self._close(session_id, ids, at)
                    except Exception as exc:
                        if not is_unavailable(exc):
                            log.exception("dropping %d queued leave(s) of %s", len(ids), session_id)
                            self._pending.pop(0)
                            continue
                        break
                    self._pending.pop(0)
                    log.info("wrote %d leave(s) queued during a database outage", len(ids))
        finally:
            self._retry = None

    async def stop(self, grace: float = 5.0) -> None:
        """Try once more to write queued leaves (bounded), then stop retrying."""
        task, self._retry = self._retry, None
        await cancel_and_wait(task)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(grace):
                while self._pending:
                    session_id, ids, at = self._pending[0]
                    await self._close(session_id, ids, at)
                    self._pending.pop(0)
        if self._pending:
            log.error("%d leave(s) could not be written before shutdown", self.pending)

    async def _close(self, session_id: str, ids: list[str], now: datetime) -> None:
        async with self._db.transaction() as tx:
            closed = await tx.execute(
                update(AttendanceRow)
                .where(
                    AttendanceRow.session_id == session_id,
                    AttendanceRow.participant_id.in_(ids),
                    AttendanceRow.left_at.is_(None),
                )
                .values(left_at=now)
                .returning(
                    AttendanceRow.participant_id,
                    AttendanceRow.user_id,
                    AttendanceRow.user_name,
                    AttendanceRow.role,
                    AttendanceRow.source,
                )
                .execution_options(synchronize_session=False)
            )
            rows = closed.all()
            tenant = await _tenant_of(tx, session_id) if rows else None
            if tenant is None:
                return
            for pid, uid, name, role, source in rows:
                data = participant_data(
                    session_id,
                    participant_id=pid,
                    user_id=uid,
                    name=name,
                    role=role,
                    source=source,
                    at=now,
                )
                await enqueue(tx, tenant, EventType.PARTICIPANT_LEFT, data)

    async def report(self, principal: Principal, ref: str) -> AttendanceReport:
        """Per user: join/leave intervals, watch time, attended. Instructor or admin only.
        Time in the class's breakout rooms counts as time in the class (their stays are
        among the intervals)."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            if not can_manage(principal, session):
                raise Forbidden(
                    "only the session's instructor or a tenant admin sees attendance",
                    code="not_session_owner",
                )
            rows = list(
                (
                    await tx.execute(
                        select(AttendanceRow)
                        .where(AttendanceRow.session_id.in_(_class_and_breakouts(session.id)))
                        .order_by(AttendanceRow.joined_at, AttendanceRow.id)
                    )
                ).scalars()
            )
        now = utcnow()
        users: dict[str, UserAttendance] = {}
        for row in rows:
            user = users.setdefault(
                row.user_id, UserAttendance(row.user_id, row.user_name, row.role)
            )
            user.intervals.append((row.joined_at, row.left_at))
            user.watch_seconds += ((row.left_at or now) - row.joined_at).total_seconds()
        for user in users.values():
            user.watch_seconds = round(user.watch_seconds, 3)
            user.attended = user.role == "guest" and user.watch_seconds >= self._min_attended
        return AttendanceReport(session=session, users=list(users.values()))
