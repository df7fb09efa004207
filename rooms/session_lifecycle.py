"""The lifecycle state machine of a session (only its creator or a tenant admin moves it)::

    scheduled ──start──► live ──end──► ended
        └──cancel──► cancelled

Cancelling cancels the session's enrollments (paid ones marked ``refund_due``) in the same
transaction, and the ``session.cancelled`` webhook lists them.

Every other transition is an :class:`InvalidState` (409) whose message names the current
state. A scheduled session starts whenever its owner starts it, early or late: a class whose
scheduled time passed (or that was scheduled in the past, as the seed apps' own examples are)
is still a class that can start, never one listed as upcoming that cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import update

from rooms.errors import InvalidState
from rooms.identity import Principal
from rooms.model import EnrollmentStatus, SessionStatus
from rooms.presence import Presence, PresenceEntry
from rooms.sequence import RoomSequence
from rooms.session_lookup import load_session, require_manage
from rooms.store import Database
from rooms.store.tables import AttendanceRow, EnrollmentRow, SessionRow
from rooms.store.types import utcnow
from rooms.webhooks import EventType, enqueue
from rooms.webhooks.events import enrollment_fields, participant_data, session_data

__all__ = ["SessionLifecycle", "Transition"]


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change that happened, and who was in the room when it did."""

    row: SessionRow
    previous: SessionStatus
    removed: list[PresenceEntry] = field(default_factory=list)


class SessionLifecycle:
    """The transitions of :class:`rooms.sessions.SessionService`, which mixes it in and sets
    ``_db`` and ``_presence``."""

    _db: Database
    _presence: Presence
    #: The rooms' sequence numbers: a room that starts begins its counter (None: not here).
    _sequence: RoomSequence | None

    async def start(self, principal: Principal, ref: str) -> Transition:
        async with self._db.transaction() as tx:
            row = await load_session(tx, principal, ref)
            require_manage(principal, row, "start")
            previous = self._require_status(row, "start", SessionStatus.SCHEDULED)
            now = utcnow()
            row.status = SessionStatus.LIVE.value
            row.started_at = now
            row.updated_at = now
            await enqueue(tx, row.tenant_id, EventType.SESSION_STARTED, session_data(row))
        await self._presence.load_room(row.id, row.status, row.max_participants)
        if self._sequence is not None:
            # A session starts once and has no reliable message before: its first chat's
            # number needs no floor from the store (a read and a round trip on its path).
            await self._sequence.begin(row.id)
        return Transition(row=row, previous=previous)

    async def end(self, principal: Principal, ref: str) -> Transition:
        async with self._db.transaction() as tx:
            row = await load_session(tx, principal, ref)
            require_manage(principal, row, "end")
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
            require_manage(principal, row, "cancel")
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
