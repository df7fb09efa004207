"""Reminders before a class starts: a ``session.reminder`` webhook, once per session, when its
scheduled start is less than the lead time away, with its active enrollments, so the
platform can tell every enrolled student (e-mail, push: the platform's channels).

Every node runs :func:`send_due_reminders` periodically; the claim is one conditional update
(``reminded_at IS NULL``), so however many nodes run it, each session is reminded once.
Rescheduling a session clears its ``reminded_at`` (:mod:`rooms.sessions`), so the new time
gets its own reminder. Sessions scheduled within the lead time are reminded at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from rooms.model import EnrollmentStatus, SessionStatus
from rooms.store import Database
from rooms.store.tables import EnrollmentRow, SessionRow
from rooms.webhooks import EventType, enqueue
from rooms.webhooks.events import enrollment_fields, session_data

__all__ = ["send_due_reminders"]


async def send_due_reminders(
    database: Database, *, lead: timedelta, now: datetime, limit: int = 100
) -> list[str]:
    """Remind every scheduled session starting before ``now + lead`` (and not started yet)
    that was not reminded; returns their ids."""
    reminded: list[str] = []
    async with database.transaction() as tx:
        due = list(
            (
                await tx.execute(
                    select(SessionRow.id)
                    .where(
                        SessionRow.status == SessionStatus.SCHEDULED.value,
                        SessionRow.reminded_at.is_(None),
                        SessionRow.scheduled_start <= now + lead,
                        SessionRow.scheduled_start > now - lead,
                    )
                    .order_by(SessionRow.scheduled_start)
                    .limit(limit)
                )
            ).scalars()
        )
        for session_id in due:
            claimed = await tx.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id, SessionRow.reminded_at.is_(None))
                .values(reminded_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            row = await tx.get(SessionRow, session_id)
            assert row is not None
            enrollments = (
                await tx.execute(
                    select(EnrollmentRow).where(
                        EnrollmentRow.session_id == session_id,
                        EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
                    )
                )
            ).scalars()
            data = {
                **session_data(row),
                "startsIn": max(0, int((row.scheduled_start - now).total_seconds())),
                "enrollments": [enrollment_fields(e) for e in enrollments],
            }
            await enqueue(tx, row.tenant_id, EventType.SESSION_REMINDER, data)
            reminded.append(session_id)
    return reminded
