"""Scheduled slots: a time an instructor plans to teach, linked to the session that opens the
room (the Daily seed's "scheduled sessions", ``sessionId``).

A slot's status follows its own small machine, ``scheduled → live → finished`` (never
backwards), and, once linked to a session, **is** that session's status: ``live`` while the
session is live, ``finished`` once it ended or was cancelled. Setting a linked slot's status
moves the session through its own state machine (see :mod:`rooms.session_lifecycle`):
``live`` starts it, ``finished`` ends a live session or cancels one that never started; so the
class behaves the same whichever API moved it. Slots are tenant-scoped like sessions (another
tenant's slot is a :class:`NotFound`); their instructor and the tenant's admins change them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.errors import Forbidden, InvalidState, NotFound
from rooms.identity import Principal
from rooms.ids import is_uuid, new_id
from rooms.model import SessionStatus
from rooms.session_lookup import load_session
from rooms.store import Database
from rooms.store.tables import ScheduleRow, SessionRow
from rooms.store.types import utcnow

__all__ = [
    "ScheduleChange",
    "SchedulePage",
    "ScheduleService",
    "ScheduleStatus",
    "ScheduleUpdate",
    "ScheduleView",
]

SessionAction = Literal["start", "end", "cancel"]


class ScheduleStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    FINISHED = "finished"


_ORDER = [ScheduleStatus.SCHEDULED, ScheduleStatus.LIVE, ScheduleStatus.FINISHED]
_FROM_SESSION = {
    SessionStatus.SCHEDULED.value: ScheduleStatus.SCHEDULED,
    SessionStatus.LIVE.value: ScheduleStatus.LIVE,
    SessionStatus.ENDED.value: ScheduleStatus.FINISHED,
    SessionStatus.CANCELLED.value: ScheduleStatus.FINISHED,
}


@dataclass(frozen=True, slots=True)
class ScheduleView:
    row: ScheduleRow
    session: SessionRow | None

    @property
    def status(self) -> ScheduleStatus:
        if self.session is not None:
            return _FROM_SESSION[self.session.status]
        return ScheduleStatus(self.row.status)


@dataclass(frozen=True, slots=True)
class SchedulePage:
    items: list[ScheduleView]
    total: int
    page: int
    limit: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.limit) if self.total else 0


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """What a caller asks to change; ``None`` leaves a field as it is."""

    starts_at: datetime | None = None
    status: ScheduleStatus | None = None
    session_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleUpdate:
    view: ScheduleView
    #: The transition the linked session must make for the status asked, if any.
    session_action: SessionAction | None


class ScheduleService:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, principal: Principal, starts_at: datetime) -> ScheduleView:
        if not principal.can_teach:
            raise Forbidden("only instructors and admins schedule sessions", code="role_forbidden")
        now = utcnow()
        row = ScheduleRow(
            id=new_id(),
            tenant_id=principal.tenant,
            instructor_id=principal.user_id,
            instructor_name=principal.name,
            instructor_email=principal.email,
            starts_at=starts_at,
            status=ScheduleStatus.SCHEDULED.value,
            session_id=None,
            created_at=now,
            updated_at=now,
        )
        async with self._db.transaction() as tx:
            tx.add(row)
        return ScheduleView(row, None)

    async def get(self, tenant: str, schedule_id: str) -> ScheduleView:
        async with self._db.transaction() as tx:
            row = await self._load(tx, tenant, schedule_id)
            return ScheduleView(row, await self._session_of(tx, row))

    async def search(
        self, tenant: str, *, instructor_id: str | None, page: int, limit: int
    ) -> SchedulePage:
        """One page of the tenant's slots, soonest first (``page`` is 1-based)."""
        conditions: list[ColumnElement[bool]] = [ScheduleRow.tenant_id == tenant]
        if instructor_id is not None:
            conditions.append(ScheduleRow.instructor_id == instructor_id)
        where = and_(*conditions)
        async with self._db.transaction() as tx:
            total = await tx.scalar(select(func.count()).select_from(ScheduleRow).where(where))
            rows = list(
                (
                    await tx.execute(
                        select(ScheduleRow)
                        .where(where)
                        .order_by(ScheduleRow.starts_at, ScheduleRow.id)
                        .limit(limit)
                        .offset((page - 1) * limit)
                    )
                ).scalars()
            )
            linked = [r.session_id for r in rows if r.session_id]
            sessions = {
                s.id: s
                for s in (
                    await tx.execute(select(SessionRow).where(SessionRow.id.in_(linked)))
                ).scalars()
            }
        items = [ScheduleView(r, sessions.get(r.session_id or "")) for r in rows]
        return SchedulePage(items=items, total=int(total or 0), page=page, limit=limit)

    async def update(
        self, principal: Principal, schedule_id: str, change: ScheduleChange
    ) -> ScheduleUpdate:
        """Reschedule, link to a session and/or move the status (see the module docstring).
        The link is made first, so a status set together with ``sessionId`` moves the newly
        linked session. :class:`InvalidState` for a status going backwards."""
        async with self._db.transaction() as tx:
            row = await self._load(tx, principal.tenant, schedule_id)
            self._require_manage(principal, row)
            if change.session_ref is not None:
                row.session_id = (await load_session(tx, principal, change.session_ref)).id
            if change.starts_at is not None:
                row.starts_at = change.starts_at
            row.updated_at = utcnow()
            session = await self._session_of(tx, row)
            action: SessionAction | None = None
            if change.status is not None:
                action = self._move(row, session, change.status)
        return ScheduleUpdate(ScheduleView(row, session), action)

    async def delete(self, principal: Principal, schedule_id: str) -> None:
        async with self._db.transaction() as tx:
            row = await self._load(tx, principal.tenant, schedule_id)
            self._require_manage(principal, row)
            await tx.delete(row)

    @staticmethod
    def _move(
        row: ScheduleRow, session: SessionRow | None, target: ScheduleStatus
    ) -> SessionAction | None:
        current = ScheduleView(row, session).status
        if target == current:
            return None
        if _ORDER.index(target) < _ORDER.index(current):
            raise InvalidState(
                f"a {current.value} scheduled session cannot go back to {target.value}",
                details={"status": current.value},
            )
        if session is None:
            row.status = target.value
            return None
        if target is ScheduleStatus.LIVE:
            return "start"
        return "end" if session.status == SessionStatus.LIVE.value else "cancel"

    @staticmethod
    async def _load(tx: AsyncSession, tenant: str, schedule_id: str) -> ScheduleRow:
        row = None
        if is_uuid(schedule_id):
            row = await tx.scalar(
                select(ScheduleRow).where(
                    ScheduleRow.tenant_id == tenant, ScheduleRow.id == schedule_id
                )
            )
        if row is None:
            raise NotFound("scheduled session not found", code="schedule_not_found")
        return row

    @staticmethod
    async def _session_of(tx: AsyncSession, row: ScheduleRow) -> SessionRow | None:
        if row.session_id is None:
            return None
        return await tx.get(SessionRow, row.session_id)

    @staticmethod
    def _require_manage(principal: Principal, row: ScheduleRow) -> None:
        owner = principal.user_id == row.instructor_id
        if not (owner or principal.is_admin):
            raise Forbidden(
                "only the scheduled session's instructor or a tenant admin may change it",
                code="not_schedule_owner",
            )
