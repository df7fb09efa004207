"""Sessions: scheduling and editing, with the reads (:mod:`rooms.session_reads`) and the
lifecycle state machine (:mod:`rooms.session_lifecycle`) in one service.

A session is addressed by its id (UUID) or its room name, always within the caller's
tenant (:mod:`rooms.session_lookup`): another tenant's session is a :class:`NotFound`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from rooms.access import permissions
from rooms.errors import AlreadyExists, Forbidden, InvalidState, ValidationFailed
from rooms.identity import Principal
from rooms.ids import new_id, room_name_from_title
from rooms.inputs import SessionDraft, SessionPatch
from rooms.model import SessionStatus
from rooms.presence import Presence
from rooms.seats import promote_waiting
from rooms.sequence import RoomSequence
from rooms.session_lifecycle import SessionLifecycle
from rooms.session_lookup import is_enrolled, load_session, require_manage
from rooms.session_reads import SessionReads, SessionView
from rooms.store import Database
from rooms.store.tables import SessionRow
from rooms.store.types import utcnow
from rooms.webhooks import EventType, enqueue
from rooms.webhooks.events import iso, session_data

__all__ = ["SessionService"]


class SessionService(SessionReads, SessionLifecycle):
    """Creates, finds, lists, edits and moves sessions through their lifecycle."""

    def __init__(
        self,
        database: Database,
        presence: Presence,
        *,
        max_session_hours: float = 6.0,
        default_duration: timedelta = timedelta(hours=1),
        sequence: RoomSequence | None = None,
    ) -> None:
        self._db = database
        self._presence = presence
        self._sequence = sequence
        self._max_duration = timedelta(hours=max_session_hours)
        self._default_duration = default_duration

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
            require_manage(principal, row, "edit")
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
            require_manage(principal, row, "delete")
            if row.status == SessionStatus.LIVE.value:
                raise InvalidState(
                    "cannot delete a session that is live; end it first",
                    details={"status": row.status},
                )
            await tx.execute(delete(SessionRow).where(SessionRow.id == row.id))
        await self._presence.forget_room(row.id)
        return row
