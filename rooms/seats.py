"""Giving freed enrollment seats to the waitlist, in order.

Called inside the transaction that frees seats (an unenrollment, a larger
``maxParticipants``), so a freed seat goes to the first user waiting before anyone else can
take it: each promotion is the same conditional seat update as an enrollment
(:mod:`rooms.enrollment`), then an enrollment for the waiting user (``enrollment.created``
and ``waitlist.promoted`` webhooks). On a paid session the promoted enrollment has no payment
yet: its booking is ``pending`` until the platform collects one (the webhook tells it to)
and the student enrolls again with its ``paymentId``, which completes the enrollment.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.ids import new_id
from rooms.model import EnrollmentStatus
from rooms.store.tables import EnrollmentRow, SessionRow, WaitlistRow
from rooms.store.types import utcnow
from rooms.webhooks import EventType, enqueue
from rooms.webhooks.events import enrollment_data

__all__ = ["promote_waiting"]


async def promote_waiting(tx: AsyncSession, session_id: str) -> list[EnrollmentRow]:
    """Enroll waiting users of ``session_id`` into its free seats, first come first served."""
    promoted: list[EnrollmentRow] = []
    while True:
        entry = await tx.scalar(
            select(WaitlistRow)
            .where(WaitlistRow.session_id == session_id, WaitlistRow.status == "waiting")
            .order_by(WaitlistRow.created_at, WaitlistRow.id)
            .limit(1)
            # Two seats freed at once go to two different users (PostgreSQL; SQLite has one
            # writer at a time anyway).
            .with_for_update(skip_locked=True)
        )
        if entry is None:
            return promoted
        taken = await tx.execute(
            update(SessionRow)
            .where(
                SessionRow.id == session_id,
                SessionRow.enrolled_count < SessionRow.max_participants,
            )
            .values(enrolled_count=SessionRow.enrolled_count + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return promoted
        session = await tx.get(SessionRow, session_id)
        assert session is not None
        now = utcnow()
        enrollment = EnrollmentRow(
            id=new_id(),
            session_id=session_id,
            tenant_id=entry.tenant_id,
            user_id=entry.user_id,
            user_name=entry.user_name,
            user_email=entry.user_email,
            status=EnrollmentStatus.ACTIVE.value,
            enrolled_at=now,
            paid=session.price > 0,
            currency=session.currency,
        )
        tx.add(enrollment)
        entry.status = "promoted"
        entry.promoted_at = now
        entry.enrollment_id = enrollment.id
        await tx.flush()
        data = enrollment_data(enrollment)
        await enqueue(tx, entry.tenant_id, EventType.ENROLLMENT_CREATED, data)
        await enqueue(tx, entry.tenant_id, EventType.WAITLIST_PROMOTED, data)
        promoted.append(enrollment)
