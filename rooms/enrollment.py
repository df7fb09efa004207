"""Enrollment: seats booked ahead of a session, duplicate-safe and capped in one transaction.

The seat cap is a conditional update of ``sessions.enrolled_count`` inside the same
transaction that inserts the enrollment (``... SET enrolled_count = enrolled_count + 1 WHERE
enrolled_count < max_participants``): the database serializes concurrent increments on the
row, so concurrent enrollments never exceed ``maxParticipants``, on SQLite and PostgreSQL alike,
and a check constraint backs it up. A second enrollment of the same user returns the first
(the partial unique index settles a race between two concurrent first enrollments).

Payments are recorded, not processed: a paid session needs a ``paymentId`` from the platform's
payment gateway, which liveclass stores with the gateway name and amount. Inconsistent payments
are refused and a verification hook can check each with the provider (see
:mod:`rooms.payments`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.access import can_manage, is_owner
from rooms.errors import Conflict, Forbidden, InvalidState, NotFound, PaymentRequired, RoomFull
from rooms.identity import Principal
from rooms.ids import new_id
from rooms.inputs import EnrollmentRequest
from rooms.model import EnrollmentStatus, SessionStatus
from rooms.payments import PaymentCheck, PaymentVerifier, VerifiedPayment
from rooms.seats import promote_waiting
from rooms.session_lookup import load_session
from rooms.store import Database
from rooms.store.tables import EnrollmentRow, SessionRow
from rooms.store.types import utcnow
from rooms.webhooks import EventType, enqueue
from rooms.webhooks.events import enrollment_data

__all__ = [
    "Booking",
    "BookingStatus",
    "EnrollmentOutcome",
    "EnrollmentService",
    "booking_status",
]


class BookingStatus(StrEnum):
    """A booking as a booking app shows it: ``confirmed`` (an active enrollment: free, or
    paid with a payment recorded), ``pending`` (active on a paid session without a payment
    recorded), ``cancelled``."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


def booking_status(enrollment: EnrollmentRow, session: SessionRow) -> BookingStatus:
    if enrollment.status == EnrollmentStatus.CANCELLED.value:
        return BookingStatus.CANCELLED
    if session.price > 0 and not enrollment.payment_id:
        return BookingStatus.PENDING
    return BookingStatus.CONFIRMED


@dataclass(frozen=True, slots=True)
class EnrollmentOutcome:
    enrollment: EnrollmentRow
    session: SessionRow
    created: bool


@dataclass(frozen=True, slots=True)
class Booking:
    """A student's enrollment with its session (``GET /me/bookings``)."""

    enrollment: EnrollmentRow
    session: SessionRow


async def _active_enrollment(
    tx: AsyncSession, session_id: str, user_id: str
) -> EnrollmentRow | None:
    return (
        await tx.execute(
            select(EnrollmentRow).where(
                EnrollmentRow.session_id == session_id,
                EnrollmentRow.user_id == user_id,
                EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
            )
        )
    ).scalar_one_or_none()


def _payment_reused() -> Conflict:
    return Conflict("this paymentId already paid for another enrollment", code="payment_reused")


async def _check_payment(
    tx: AsyncSession,
    principal: Principal,
    session: SessionRow,
    request: EnrollmentRequest,
    amount: Decimal | None,
) -> None:
    """Refuse an amount below the price and a payment that paid for someone or something
    else (re-enrolling with one's own payment after unenrolling is fine)."""
    if amount is not None and amount < session.price:
        raise PaymentRequired(
            f"amountPaid {amount} is below the price {session.price} {session.currency}",
            code="payment_insufficient",
            details={"price": float(session.price), "amountPaid": float(amount)},
        )
    other = await tx.scalar(
        select(EnrollmentRow.id)
        .where(
            EnrollmentRow.tenant_id == session.tenant_id,
            EnrollmentRow.payment_id == request.paymentId,
            or_(EnrollmentRow.user_id != principal.user_id, EnrollmentRow.session_id != session.id),
        )
        .limit(1)
    )
    if other is not None:
        raise _payment_reused()


class EnrollmentService:
    def __init__(self, database: Database, verifier: PaymentVerifier | None = None) -> None:
        self._db = database
        self._verifier = verifier

    async def _verified(
        self, principal: Principal, ref: str, request: EnrollmentRequest
    ) -> VerifiedPayment | None:
        """The verifier's word on the request's payment (paid sessions only), or None."""
        if self._verifier is None or not request.paymentId:
            return None
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
        if session.price <= 0:
            return None
        check = PaymentCheck(
            paymentId=request.paymentId,
            paymentGateway=request.paymentGateway,
            amountPaid=float(request.amountPaid) if request.amountPaid is not None else None,
            currency=session.currency,
            price=float(session.price),
            userId=principal.user_id,
            sessionId=session.id,
            tenant=session.tenant_id,
        )
        verified = await self._verifier.verify(check)
        if not verified.verified:
            raise PaymentRequired(
                "the payment provider did not confirm this payment",
                code="payment_not_verified",
            )
        return verified

    async def enroll(
        self, principal: Principal, ref: str, request: EnrollmentRequest
    ) -> EnrollmentOutcome:
        """Enroll the caller; returns the existing enrollment (``created`` False) if any.

        Raises NotFound, Forbidden (the instructor of the session), InvalidState (not
        scheduled or live), PaymentRequired (paid session without ``paymentId``) or RoomFull
        (code ``session_full``).
        """
        verified = await self._verified(principal, ref, request)
        try:
            async with self._db.transaction() as tx:
                return await self._enroll(tx, principal, ref, request, verified)
        except IntegrityError as exc:
            # A concurrent first enrollment of the same user won; return it.
            async with self._db.transaction() as tx:
                session = await load_session(tx, principal, ref)
                existing = await _active_enrollment(tx, session.id, principal.user_id)
            if existing is None:
                # Not the user's own race: the payment's (one active enrollment per payment).
                raise _payment_reused() from exc
            return EnrollmentOutcome(existing, session, created=False)

    async def _enroll(
        self,
        tx: AsyncSession,
        principal: Principal,
        ref: str,
        request: EnrollmentRequest,
        verified: VerifiedPayment | None,
    ) -> EnrollmentOutcome:
        session = await load_session(tx, principal, ref)
        existing = await _active_enrollment(tx, session.id, principal.user_id)
        if existing is not None:
            if session.price > 0 and existing.payment_id is None and request.paymentId:
                # A seat given without a payment (a waitlist promotion): its payment now.
                amount = request.amountPaid if verified is None else verified.amount
                await _check_payment(tx, principal, session, request, amount)
                existing.payment_id = request.paymentId
                existing.payment_gateway = request.paymentGateway
                existing.amount_paid = amount
            return EnrollmentOutcome(existing, session, created=False)
        if is_owner(principal, session):
            raise Forbidden("instructors do not enroll in their own session", code="is_instructor")
        status = SessionStatus(session.status)
        if status not in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
            raise InvalidState(
                f"cannot enroll in a session that is {status.value}",
                details={"status": status.value},
            )
        paid = session.price > 0
        if paid and not request.paymentId:
            raise PaymentRequired(
                f"this session costs {session.price} {session.currency}; "
                "enroll with the paymentId of a completed payment",
                details={"price": float(session.price), "currency": session.currency},
            )
        amount = request.amountPaid if verified is None else verified.amount
        if paid:
            await _check_payment(tx, principal, session, request, amount)
        taken = await tx.execute(
            update(SessionRow)
            .where(
                SessionRow.id == session.id,
                SessionRow.enrolled_count < SessionRow.max_participants,
            )
            .values(enrolled_count=SessionRow.enrolled_count + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            # On PostgreSQL the check above ran before the row lock: a concurrent enrollment
            # of this same user may have taken the last seat meanwhile. It is committed (the
            # update waited for it), so a fresh read sees it: return it rather than "full".
            existing = await _active_enrollment(tx, session.id, principal.user_id)
            if existing is not None:
                await tx.refresh(session)
                return EnrollmentOutcome(existing, session, created=False)
            raise RoomFull(
                f"all {session.max_participants} seats of this session are taken",
                code="session_full",
                details={"maxParticipants": session.max_participants},
            )
        enrollment = EnrollmentRow(
            id=new_id(),
            session_id=session.id,
            tenant_id=session.tenant_id,
            user_id=principal.user_id,
            user_name=principal.name,
            user_email=principal.email,
            status=EnrollmentStatus.ACTIVE.value,
            enrolled_at=utcnow(),
            paid=paid,
            payment_id=request.paymentId,
            payment_gateway=request.paymentGateway,
            amount_paid=amount if paid else request.amountPaid,
            currency=session.currency,
        )
        tx.add(enrollment)
        await tx.flush()
        await tx.refresh(session)
        await enqueue(
            tx, session.tenant_id, EventType.ENROLLMENT_CREATED, enrollment_data(enrollment)
        )
        return EnrollmentOutcome(enrollment, session, created=True)

    async def unenroll(self, principal: Principal, ref: str) -> EnrollmentRow:
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            enrollment = await _active_enrollment(tx, session.id, principal.user_id)
            if enrollment is None:
                raise NotFound("you are not enrolled in this session", code="not_enrolled")
            status = SessionStatus(session.status)
            if status not in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
                raise InvalidState(
                    f"cannot unenroll from a session that is {status.value}",
                    details={"status": status.value},
                )
            # Conditional, so that of concurrent cancellations exactly one frees the seat
            # (on PostgreSQL they all read the enrollment as active before the row lock).
            cancelled = await tx.execute(
                update(EnrollmentRow)
                .where(
                    EnrollmentRow.id == enrollment.id,
                    EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
                )
                .values(status=EnrollmentStatus.CANCELLED.value, cancelled_at=utcnow())
            )
            if cancelled.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound("you are not enrolled in this session", code="not_enrolled")
            await tx.execute(
                update(SessionRow)
                .where(SessionRow.id == session.id, SessionRow.enrolled_count > 0)
                .values(enrolled_count=SessionRow.enrolled_count - 1)
                .execution_options(synchronize_session=False)
            )
            await promote_waiting(tx, session.id)
        return enrollment

    async def enrollment_of(
        self, principal: Principal, session_ids: list[str]
    ) -> dict[str, EnrollmentRow]:
        """The caller's active enrollment in each of ``session_ids`` that has one."""
        if not session_ids:
            return {}
        async with self._db.transaction() as tx:
            rows = await tx.execute(
                select(EnrollmentRow).where(
                    EnrollmentRow.tenant_id == principal.tenant,
                    EnrollmentRow.user_id == principal.user_id,
                    EnrollmentRow.session_id.in_(session_ids),
                    EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
                )
            )
            return {row.session_id: row for row in rows.scalars()}

    async def bookings(
        self, principal: Principal, *, status: SessionStatus | None, limit: int, offset: int
    ) -> tuple[list[Booking], int]:
        """The caller's active enrollments with their sessions, soonest first."""
        where = [
            EnrollmentRow.tenant_id == principal.tenant,
            EnrollmentRow.user_id == principal.user_id,
            EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
        ]
        if status is not None:
            where.append(SessionRow.status == status.value)
        base = select(EnrollmentRow, SessionRow).join(
            SessionRow, SessionRow.id == EnrollmentRow.session_id
        )
        async with self._db.transaction() as tx:
            total = await tx.scalar(
                select(func.count())
                .select_from(EnrollmentRow)
                .join(SessionRow, SessionRow.id == EnrollmentRow.session_id)
                .where(*where)
            )
            rows = await tx.execute(
                base.where(*where)
                .order_by(SessionRow.scheduled_start, SessionRow.id)
                .limit(limit)
                .offset(offset)
            )
            bookings = [Booking(e, s) for e, s in rows]
        return bookings, int(total or 0)

    async def roster(self, principal: Principal, ref: str) -> list[EnrollmentRow]:
        """Every active enrollment of a session (its instructor or a tenant admin only)."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            if not can_manage(principal, session):
                raise Forbidden(
                    "only the session's instructor or a tenant admin sees enrollments",
                    code="not_session_owner",
                )
            rows = await tx.execute(
                select(EnrollmentRow)
                .where(
                    EnrollmentRow.session_id == session.id,
                    EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
                )
                .order_by(EnrollmentRow.enrolled_at, EnrollmentRow.id)
            )
            return list(rows.scalars())
