"""Reading sessions: one as a caller sees it (its live counts and the caller's rights), a
filtered page of a tenant's sessions (the anonymous catalogue too), and counts for metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.access import Permissions, permissions
from rooms.errors import NotFound
from rooms.identity import Principal
from rooms.model import EnrollmentStatus, RoomRole, SessionStatus
from rooms.presence import Presence
from rooms.session_lookup import is_enrolled, load_session, tenant_session_query
from rooms.store import Database
from rooms.store.tables import AttendanceRow, EnrollmentRow, SessionRow

__all__ = ["Page", "SessionFilter", "SessionReads", "SessionView"]


@dataclass(frozen=True, slots=True)
class SessionFilter:
    status: SessionStatus | None = None
    instructor_id: str | None = None
    course_id: str | None = None
    featured: bool | None = None
    starts_from: datetime | None = None
    starts_to: datetime | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as one caller sees it: the row, its live counts and the caller's rights."""

    row: SessionRow
    active_count: int
    attended_count: int
    permissions: Permissions


@dataclass(frozen=True, slots=True)
class Page:
    items: list[SessionView]
    total: int
    limit: int
    offset: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.limit) if self.total else 0


class SessionReads:
    """The read side of :class:`rooms.sessions.SessionService`, which mixes it in and sets
    ``_db`` and ``_presence``."""

    _db: Database
    _presence: Presence

    async def get(self, principal: Principal, ref: str) -> SessionView:
        async with self._db.transaction() as tx:
            row = await load_session(tx, principal, ref)
            enrolled = await is_enrolled(tx, row.id, principal.user_id)
        return await self._view(principal, row, enrolled)

    async def read(self, tenant: str, ref: str, principal: Principal | None) -> SessionView:
        """Session ``ref`` of ``tenant`` for ``principal``, or for an anonymous catalogue
        reader (``None``: permission flags all false)."""
        if principal is not None:
            return await self.get(principal, ref)
        async with self._db.transaction() as tx:
            row = (await tx.execute(tenant_session_query(tenant, ref))).scalar_one_or_none()
        if row is None:
            raise NotFound("session not found", code="session_not_found")
        active = await self._active_counts([row])
        async with self._db.transaction() as tx:
            attended = await self._attended_counts(tx, [row.id])
        return SessionView(
            row,
            active.get(row.id, 0),
            attended.get(row.id, 0),
            permissions(None, row, enrolled=False),
        )

    async def search(self, principal: Principal | None, tenant: str, flt: SessionFilter) -> Page:
        """One page of the tenant's sessions, soonest first. ``principal`` None is an
        anonymous catalogue reader (permission flags all false)."""
        # Breakout rooms (child sessions) are not classes of the catalogue.
        conditions: list[ColumnElement[bool]] = [
            SessionRow.tenant_id == tenant,
            SessionRow.parent_id.is_(None),
        ]
        if flt.status is not None:
            conditions.append(SessionRow.status == flt.status.value)
        if flt.instructor_id is not None:
            conditions.append(SessionRow.instructor_id == flt.instructor_id)
        if flt.course_id is not None:
            conditions.append(SessionRow.course_id == flt.course_id)
        if flt.featured is not None:
            conditions.append(SessionRow.featured == flt.featured)
        if flt.starts_from is not None:
            conditions.append(SessionRow.scheduled_start >= flt.starts_from)
        if flt.starts_to is not None:
            conditions.append(SessionRow.scheduled_start <= flt.starts_to)
        where = and_(*conditions)
        async with self._db.transaction() as tx:
            total = await tx.scalar(select(func.count()).select_from(SessionRow).where(where))
            rows = list(
                (
                    await tx.execute(
                        select(SessionRow)
                        .where(where)
                        .order_by(SessionRow.scheduled_start, SessionRow.id)
                        .limit(flt.limit)
                        .offset(flt.offset)
                    )
                ).scalars()
            )
            ids = [r.id for r in rows]
            enrolled_ids: set[str] = set()
            if principal is not None and ids:
                enrolled_ids = set(
                    (
                        await tx.execute(
                            select(EnrollmentRow.session_id).where(
                                EnrollmentRow.session_id.in_(ids),
                                EnrollmentRow.user_id == principal.user_id,
                                EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
                            )
                        )
                    ).scalars()
                )
            attended = await self._attended_counts(tx, ids)
        active = await self._active_counts(rows)
        items = [
            SessionView(
                row=r,
                active_count=active.get(r.id, 0),
                attended_count=attended.get(r.id, 0),
                permissions=permissions(principal, r, enrolled=r.id in enrolled_ids),
            )
            for r in rows
        ]
        return Page(items=items, total=int(total or 0), limit=flt.limit, offset=flt.offset)

    async def live_count(self) -> int:
        """How many sessions are live now, across every tenant (a metric)."""
        async with self._db.transaction() as tx:
            count = await tx.scalar(
                select(func.count())
                .select_from(SessionRow)
                .where(SessionRow.status == SessionStatus.LIVE.value)
            )
        return int(count or 0)

    async def attended_counts(self, session_ids: list[str]) -> dict[str, int]:
        """How many distinct guests attended each session (one query for all)."""
        async with self._db.transaction() as tx:
            return await self._attended_counts(tx, session_ids)

    async def _active_counts(self, rows: list[SessionRow]) -> dict[str, int]:
        live = [r.id for r in rows if r.status == SessionStatus.LIVE.value]
        return await self._presence.counts(live)

    @staticmethod
    async def _attended_counts(tx: AsyncSession, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        rows = await tx.execute(
            select(AttendanceRow.session_id, func.count(func.distinct(AttendanceRow.user_id)))
            .where(
                AttendanceRow.session_id.in_(ids),
                AttendanceRow.role == RoomRole.GUEST.value,
            )
            .group_by(AttendanceRow.session_id)
        )
        return {sid: int(n) for sid, n in rows}

    async def view(self, principal: Principal, row: SessionRow) -> SessionView:
        async with self._db.transaction() as tx:
            enrolled = await is_enrolled(tx, row.id, principal.user_id)
        return await self._view(principal, row, enrolled)

    async def _view(self, principal: Principal, row: SessionRow, enrolled: bool) -> SessionView:
        async with self._db.transaction() as tx:
            attended = await self._attended_counts(tx, [row.id])
        active = await self._active_counts([row])
        return SessionView(
            row=row,
            active_count=active.get(row.id, 0),
            attended_count=attended.get(row.id, 0),
            permissions=permissions(principal, row, enrolled=enrolled),
        )
