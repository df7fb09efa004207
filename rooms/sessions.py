"""Sessions: scheduling, the lifecycle state machine, listing and lookup.

State machine (only the creator or a tenant admin moves it)::

    scheduled ──start──► live ──end──► ended
        └──cancel──► cancelled

Cancelling cancels the session's enrollments (paid ones marked ``refund_due``) in the same
transaction, and the ``session.cancelled`` webhook lists them.

Every other transition is an :class:`InvalidState` (409) whose message names the current
state. A scheduled session starts whenever its owner starts it, early or late: a class whose
scheduled time passed (or that was scheduled in the past, as the seed apps' own examples are)
is still a class that can start, never one listed as upcoming that cannot.

A session is addressed by its id (UUID) or its room name, always within the caller's
tenant: another tenant's session is a :class:`NotFound`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.access import Permissions, can_manage, permissions
from rooms.errors import (
    AlreadyExists,
    Banned,
    Forbidden,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from rooms.identity import Principal
from rooms.ids import is_uuid, new_id, room_name_from_title
from rooms.inputs import SessionDraft, SessionPatch
from rooms.model import EnrollmentStatus, RoomRole, SessionStatus
from rooms.presence import Presence, PresenceEntry
from rooms.seats import promote_waiting
from rooms.store import Database
from rooms.store.tables import AttendanceRow, BanRow, EnrollmentRow, SessionRow
from rooms.store.types import utcnow
from rooms.webhooks import EventType, enqueue
from rooms.webhooks.events import enrollment_fields, iso, participant_data, session_data

__all__ = ["Page", "SessionFilter", "SessionService", "SessionView", "Transition"]


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


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change that happened, and who was in the room when it did."""

    row: SessionRow
    previous: SessionStatus
    removed: list[PresenceEntry] = field(default_factory=list)


def tenant_session_query(tenant: str, ref: str) -> Select[SessionRow]:
    """The select for session ``ref`` (id or room name) inside ``tenant``."""
    column = SessionRow.id if is_uuid(ref) else SessionRow.room_name
    return select(SessionRow).where(SessionRow.tenant_id == tenant, column == ref)


async def load_session(tx: AsyncSession, principal: Principal, ref: str) -> SessionRow:
    """Session ``ref`` in the caller's tenant, or :class:`NotFound`.

    This is the one door to a session for every service: a user the host removed (banned)
    gets :class:`Banned` here, for every read and action on the session (its messages,
    participants, recordings, tokens, the session itself). Managers are never banned.
    """
    banned = (
        select(BanRow.id)
        .where(BanRow.session_id == SessionRow.id, BanRow.user_id == principal.user_id)
        .exists()
    )
    found = (
        await tx.execute(tenant_session_query(principal.tenant, ref).add_columns(banned))
    ).one_or_none()
    if found is None:
        raise NotFound("session not found", code="session_not_found")
    row: SessionRow = found[0]
    if found[1] and not can_manage(principal, row):
        raise Banned("you were removed from this session by the host")
    return row


async def require_not_banned(tx: AsyncSession, principal: Principal, session: SessionRow) -> None:
    """:class:`Banned` when the host removed ``principal`` from ``session`` (for callers that
    reached the session another way than :func:`load_session`, e.g. by a recording id)."""
    if can_manage(principal, session):
        return
    found = await tx.scalar(
        select(BanRow.id).where(
            BanRow.session_id == session.id, BanRow.user_id == principal.user_id
        )
    )
    if found is not None:
        raise Banned("you were removed from this session by the host")


async def is_enrolled(tx: AsyncSession, session_id: str, user_id: str) -> bool:
    found = await tx.scalar(
        select(EnrollmentRow.id).where(
            EnrollmentRow.session_id == session_id,
            EnrollmentRow.user_id == user_id,
            EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
        )
    )
    return found is not None


class SessionService:
    """Creates, finds, lists, edits and moves sessions through their lifecycle."""

    def __init__(
        self,
        database: Database,
        presence: Presence,
        *,
        max_session_hours: float = 6.0,
        default_duration: timedelta = timedelta(hours=1),
    ) -> None:
        self._db = database
        self._presence = presence
        self._max_duration = timedelta(hours=max_session_hours)
        self._default_duration = default_duration

    # -- reads -------------------------------------------------------------------------------

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
        conditions: list[ColumnElement[bool]] = [SessionRow.tenant_id == tenant]
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

    # -- writes ------------------------------------------------------------------------------

    def _check_window(self, start: datetime, end: datetime) -> None:
        if end <= start:
            raise ValidationFailed("scheduledEnd must be after scheduledStart")
        if end - start > self._max_duration:
            hours = self._max_duration.total_seconds() / 3600
            raise ValidationFailed(f"a session lasts at most {hours:g} hours")

    async def create(self, principal: Principal, draft: SessionDraft) -> SessionView:
        if not principal.can_teach:
            raise Forbidden("only instructors and admins create sessions", code="role_forbidden")
        start = draft.scheduledStart or utcnow()
        end = draft.scheduledEnd or start + self._default_duration
        self._check_window(start, end)
        now = utcnow()
        row = SessionRow(
            id=new_id(),
            tenant_id=principal.tenant,
            room_name=draft.roomName or room_name_from_title(draft.title),
            instructor_id=principal.user_id,
            instructor_name=principal.name,
            instructor_avatar=principal.avatar,
            title=draft.title,
            description=draft.description,
            session_type=draft.sessionType.value,
            course_id=draft.courseId,
            status=SessionStatus.SCHEDULED.value,
            scheduled_start=start,
            scheduled_end=end,
            max_participants=draft.maxParticipants,
            enrolled_count=0,
            requires_enrollment=draft.requiresEnrollment,
            price=draft.price,
            currency=draft.currency,
            thumbnail=draft.thumbnail,
            meta=draft.metadata,
            featured=draft.featured,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.transaction() as tx:
                tx.add(row)
        except IntegrityError as exc:
            raise AlreadyExists(
                f"the room name {row.room_name!r} is taken in this tenant",
                code="room_name_taken",
            ) from exc
        return SessionView(row, 0, 0, permissions(principal, row, enrolled=False))

    async def update(self, principal: Principal, ref: str, patch: SessionPatch) -> SessionView:
        changes = patch.model_dump(exclude_unset=True)
        async with self._db.transaction() as tx:
            row = await load_session(tx, principal, ref)
            self._require_manage(principal, row, "edit")
            status = SessionStatus(row.status)
            if status in (SessionStatus.ENDED, SessionStatus.CANCELLED):
                raise InvalidState(
                    f"cannot edit a session that is {status}", details={"status": status}
                )
            if ("scheduledStart" in changes or "scheduledEnd" in changes) and (
                status is not SessionStatus.SCHEDULED
            ):
                raise InvalidState(
                    f"cannot reschedule a session that is {status}", details={"status": status}
                )
            previous_start, previous_end = row.scheduled_start, row.scheduled_end
            start = changes.get("scheduledStart", row.scheduled_start)
            end = changes.get("scheduledEnd", row.scheduled_end)
            if "scheduledStart" in changes and "scheduledEnd" not in changes:
                end = start + (row.scheduled_end - row.scheduled_start)
            self._check_window(start, end)
            capacity = changes.get("maxParticipants", row.max_participants)
            if capacity < row.enrolled_count:
                raise InvalidState(
                    f"{row.enrolled_count} users are enrolled; maxParticipants cannot be lower",
                    code="capacity_below_enrolled",
                )
            price = changes.get("price", row.price)
            currency = changes.get("currency", row.currency)
            if price > 0 and not currency:
                raise ValidationFailed("a paid session needs a currency")
            if start != row.scheduled_start:
                row.reminded_at = None  # the new time gets its own reminder
            row.scheduled_start, row.scheduled_end = start, end
            row.max_participants = capacity
            row.price, row.currency = price, currency
            simple = {
                "title": "title",
                "description": "description",
                "thumbnail": "thumbnail",
                "featured": "featured",
                "requiresEnrollment": "requires_enrollment",
                "courseId": "course_id",
            }
            for wire, attr in simple.items():
                if wire in changes:
                    setattr(row, attr, changes[wire])
            if "sessionType" in changes:
                row.session_type = patch.sessionType.value if patch.sessionType else "group"
            if "metadata" in changes:
                row.meta = changes["metadata"] or {}
            if changes:
                row.updated_at = utcnow()
                # Enrolled students learn of a new time (or anything else) from the platform.
                data = {
                    **session_data(row),
                    "changes": sorted(changes),
                    "previous": {
                        "scheduledStart": iso(previous_start),
                        "scheduledEnd": iso(previous_end),
                    },
                }
                await enqueue(tx, row.tenant_id, EventType.SESSION_UPDATED, data)
            if "maxParticipants" in changes and await promote_waiting(tx, row.id):
                await tx.refresh(row)
            enrolled = await is_enrolled(tx, row.id, principal.user_id)
        if status is SessionStatus.LIVE and "maxParticipants" in changes:
            await self._presence.load_room(row.id, row.status, row.max_participants)
        return await self._view(principal, row, enrolled)

    async def delete(self, principal: Principal, ref: str) -> SessionRow:
        async with self._db.transaction() as tx:
            row = await load_session(tx, principal, ref)
            self._require_manage(principal, row, "delete")
            if row.status == SessionStatus.LIVE.value:
                raise InvalidState(
                    "cannot delete a session that is live; end it first",
                    details={"status": row.status},
                )
            await tx.execute(delete(SessionRow).where(SessionRow.id == row.id))
        await self._presence.forget_room(row.id)
        return row

    async def start(self, principal: Principal, ref: str) -> Transition:
        async with self._db.transaction() as tx:
            row = await load_session(tx, principal, ref)
            self._require_manage(principal, row, "start")
            previous = self._require_status(row, "start", SessionStatus.SCHEDULED)
            now = utcnow()
            row.status = SessionStatus.LIVE.value
            row.started_at = now
            row.updated_at = now
            await enqueue(tx, row.tenant_id, EventType.SESSION_STARTED, session_data(row))
        await self._presence.load_room(row.id, row.status, row.max_participants)
        return Transition(row=row, previous=previous)

    async def end(self, principal: Principal, ref: str) -> Transition:
        async with self._db.transaction() as tx:
            row = await load_session(tx, principal, ref)
            self._require_manage(principal, row, "end")
            previous = self._require_status(row, "end", SessionStatus.LIVE)
            now = utcnow()
            row.status = SessionStatus.ENDED.value
            row.ended_at = now
            row.updated_at = now
            # Everyone still in the room leaves with it (one participant.left each).
            closed = await tx.execute(
                update(AttendanceRow)
                .where(AttendanceRow.session_id == row.id, AttendanceRow.left_at.is_(None))
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
            for pid, uid, name, role, source in closed.all():
                data = participant_data(
                    row.id,
                    participant_id=pid,
                    user_id=uid,
                    name=name,
                    role=role,
                    source=source,
                    at=now,
                )
                await enqueue(tx, row.tenant_id, EventType.PARTICIPANT_LEFT, data)
            await enqueue(tx, row.tenant_id, EventType.SESSION_ENDED, session_data(row))
        removed = await self._presence.close(row.id, SessionStatus.ENDED.value)
        return Transition(row=row, previous=previous, removed=removed)

    async def cancel(self, principal: Principal, ref: str) -> Transition:
        async with self._db.transaction() as tx:
            row = await load_session(tx, principal, ref)
            self._require_manage(principal, row, "cancel")
            previous = self._require_status(row, "cancel", SessionStatus.SCHEDULED)
            now = utcnow()
            row.status = SessionStatus.CANCELLED.value
            row.cancelled_at = now
            row.updated_at = now
            # Its enrollments go with it; those paid for are owed a refund, which the
            # platform hears of with the cancellation (its payment provider refunds).
            cancelled = list(
                (
                    await tx.execute(
                        update(EnrollmentRow)
                        .where(
                            EnrollmentRow.session_id == row.id,
                            EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
                        )
                        .values(
                            status=EnrollmentStatus.CANCELLED.value,
                            cancelled_at=now,
                            refund_due=EnrollmentRow.paid,
                        )
                        .returning(EnrollmentRow)
                        .execution_options(synchronize_session=False)
                    )
                ).scalars()
            )
            row.enrolled_count = 0
            data = {
                **session_data(row),
                "enrollments": [enrollment_fields(e) for e in cancelled],
            }
            await enqueue(tx, row.tenant_id, EventType.SESSION_CANCELLED, data)
        await self._presence.close(row.id, SessionStatus.CANCELLED.value)
        return Transition(row=row, previous=previous)

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

    @staticmethod
    def _require_manage(principal: Principal, row: SessionRow, action: str) -> None:
        if not can_manage(principal, row):
            raise Forbidden(
                f"only the session's instructor or a tenant admin may {action} it",
                code="not_session_owner",
            )

    @staticmethod
    def _require_status(row: SessionRow, action: str, *allowed: SessionStatus) -> SessionStatus:
        status = SessionStatus(row.status)
        if status not in allowed:
            wanted = " or ".join(s.value for s in allowed)
            raise InvalidState(
                f"cannot {action} a session that is {status.value} (it must be {wanted})",
                details={"status": status.value},
            )
        return status
