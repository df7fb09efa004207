"""Feedback: a rating (1..5) and a comment on an ended session, by the users who were
enrolled in it or attended it; one per user and session, revised by a second rating."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rooms.access import can_manage
from rooms.errors import Forbidden, InvalidState
from rooms.identity import Principal
from rooms.ids import new_id
from rooms.inputs import FeedbackRequest
from rooms.model import SessionStatus
from rooms.session_lookup import is_enrolled, load_session
from rooms.store import Database
from rooms.store.tables import AttendanceRow, FeedbackRow, SessionRow
from rooms.store.types import utcnow

__all__ = ["FeedbackReport", "FeedbackService", "feedback_report"]


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    """A session's ratings: all of them for its instructor and admins, the caller's own for
    everyone else (``average`` and ``count`` are over all of them either way)."""

    session: SessionRow
    ratings: list[FeedbackRow]
    count: int
    average: float | None


async def feedback_report(database: Database, principal: Principal, ref: str) -> FeedbackReport:
    """Read a session's feedback (see :class:`FeedbackReport`)."""
    async with database.transaction() as tx:
        session = await load_session(tx, principal, ref)
        rows = list(
            (
                await tx.execute(
                    select(FeedbackRow)
                    .where(FeedbackRow.session_id == session.id)
                    .order_by(FeedbackRow.updated_at, FeedbackRow.id)
                )
            ).scalars()
        )
    average = round(sum(r.rating for r in rows) / len(rows), 2) if rows else None
    shown = (
        rows
        if can_manage(principal, session)
        else [r for r in rows if r.user_id == principal.user_id]
    )
    return FeedbackReport(session=session, ratings=shown, count=len(rows), average=average)


class FeedbackService:
    """Gives and reads the feedback of a session."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def report(self, principal: Principal, ref: str) -> FeedbackReport:
        """A session's ratings (see :class:`FeedbackReport`)."""
        return await feedback_report(self._db, principal, ref)

    async def rate(self, principal: Principal, ref: str, request: FeedbackRequest) -> FeedbackRow:
        """Rate an ended session the caller was enrolled in or attended; a second call
        revises the rating."""
        try:
            return await self._rate(principal, ref, request)
        except IntegrityError:
            # A concurrent first rating by the same user won the unique constraint: revise it.
            return await self._rate(principal, ref, request)

    async def _rate(self, principal: Principal, ref: str, request: FeedbackRequest) -> FeedbackRow:
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            if session.status != SessionStatus.ENDED.value:
                raise InvalidState(
                    f"feedback opens when the session has ended (it is {session.status})",
                    details={"status": session.status},
                )
            enrolled = await is_enrolled(tx, session.id, principal.user_id)
            attended = await tx.scalar(
                select(AttendanceRow.id)
                .where(
                    AttendanceRow.session_id == session.id,
                    AttendanceRow.user_id == principal.user_id,
                )
                .limit(1)
            )
            if not enrolled and attended is None:
                raise Forbidden(
                    "only enrolled users and attendees give feedback", code="not_a_participant"
                )
            row = (
                await tx.execute(
                    select(FeedbackRow).where(
                        FeedbackRow.session_id == session.id,
                        FeedbackRow.user_id == principal.user_id,
                    )
                )
            ).scalar_one_or_none()
            now = utcnow()
            if row is None:
                row = FeedbackRow(
                    id=new_id(),
                    session_id=session.id,
                    tenant_id=session.tenant_id,
                    user_id=principal.user_id,
                    user_name=principal.name,
                    created_at=now,
                )
                tx.add(row)
            row.rating = request.rating
            row.comment = request.comment
            row.updated_at = now
        return row
