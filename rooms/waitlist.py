"""The waitlist of a full session: members wait in order for an enrollment seat.

- ``join``: only when every seat is taken (409 ``seats_available`` otherwise: enroll
  instead), not for the enrolled (409 ``already_enrolled``) nor the instructor; joining twice
  returns the same place. Only scheduled and live sessions have a waitlist.
- a seat that frees (an unenrollment, a larger ``maxParticipants``) goes to the first user
  waiting, in the same transaction (:mod:`rooms.seats`).
- ``leave``: gives up one's place; ``places``: everyone waiting, in order, for the
  session's instructor and the tenant's admins, one's own place for everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.access import can_manage, is_owner
from rooms.errors import Conflict, Forbidden, InvalidState, NotFound
from rooms.identity import Principal
from rooms.ids import new_id
from rooms.model import SessionStatus
from rooms.session_lookup import is_enrolled, load_session
from rooms.store import Database
from rooms.store.tables import SessionRow, WaitlistRow
from rooms.store.types import utcnow

__all__ = ["WaitlistPlace", "WaitlistService"]


@dataclass(frozen=True, slots=True)
class WaitlistPlace:
    entry: WaitlistRow
    position: int  # 1-based among those waiting


class WaitlistService:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def join(self, principal: Principal, ref: str) -> tuple[WaitlistPlace, bool]:
        """The caller's place, and whether it is new."""
        try:
            async with self._db.transaction() as tx:
                session = await load_session(tx, principal, ref)
                existing = await self._waiting(tx, session.id, principal.user_id)
                if existing is not None:
                    return await self._place(tx, existing), False
                self._check(principal, session)
                if await is_enrolled(tx, session.id, principal.user_id):
                    raise Conflict("you are enrolled already", code="already_enrolled")
                if session.enrolled_count < session.max_participants:
                    raise Conflict(
                        "this session has free seats: enroll instead", code="seats_available"
                    )
                entry = WaitlistRow(
                    id=new_id(),
                    session_id=session.id,
                    tenant_id=session.tenant_id,
                    user_id=principal.user_id,
                    user_name=principal.name,
                    user_email=principal.email,
                    status="waiting",
                    created_at=utcnow(),
                )
                tx.add(entry)
                await tx.flush()
                return await self._place(tx, entry), True
        except IntegrityError:
            # A concurrent first join of the same user won: return that place.
            async with self._db.transaction() as tx:
                session = await load_session(tx, principal, ref)
                existing = await self._waiting(tx, session.id, principal.user_id)
                if existing is None:
                    raise
                return await self._place(tx, existing), False

    async def leave(self, principal: Principal, ref: str) -> WaitlistRow:
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            entry = await self._waiting(tx, session.id, principal.user_id)
            if entry is None:
                raise NotFound("you are not on this session's waitlist", code="not_waiting")
            await tx.execute(
                update(WaitlistRow)
                .where(WaitlistRow.id == entry.id, WaitlistRow.status == "waiting")
                .values(status="left")
                .execution_options(synchronize_session=False)
            )
            entry.status = "left"
            return entry

    async def places(
        self, principal: Principal, ref: str
    ) -> tuple[SessionRow, list[WaitlistPlace]]:
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            rows = list(
                (
                    await tx.execute(
                        select(WaitlistRow)
                        .where(
                            WaitlistRow.session_id == session.id, WaitlistRow.status == "waiting"
                        )
                        .order_by(WaitlistRow.created_at, WaitlistRow.id)
                    )
                ).scalars()
            )
        places = [WaitlistPlace(r, i + 1) for i, r in enumerate(rows)]
        if not can_manage(principal, session):
            places = [p for p in places if p.entry.user_id == principal.user_id]
        return session, places

    @staticmethod
    def _check(principal: Principal, session: SessionRow) -> None:
        if is_owner(principal, session):
            raise Forbidden("instructors do not wait for their own session", code="is_instructor")
        status = SessionStatus(session.status)
        if status not in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
            raise InvalidState(
                f"a session that is {status.value} has no waitlist",
                details={"status": status.value},
            )

    @staticmethod
    async def _waiting(tx: AsyncSession, session_id: str, user_id: str) -> WaitlistRow | None:
        row: WaitlistRow | None = await tx.scalar(
            select(WaitlistRow).where(
                WaitlistRow.session_id == session_id,
                WaitlistRow.user_id == user_id,
                WaitlistRow.status == "waiting",
            )
        )
        return row

    @staticmethod
    async def _place(tx: AsyncSession, entry: WaitlistRow) -> WaitlistPlace:
        ahead = await tx.scalar(
            select(func.count())
            .select_from(WaitlistRow)
            .where(
                WaitlistRow.session_id == entry.session_id,
                WaitlistRow.status == "waiting",
                (WaitlistRow.created_at < entry.created_at)
                | ((WaitlistRow.created_at == entry.created_at) & (WaitlistRow.id < entry.id)),
            )
        )
        return WaitlistPlace(entry, int(ahead or 0) + 1)
