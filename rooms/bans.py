"""Kicks that last: a user the host removed stays out of the session, even with a fresh token.

A ban is written to the store (``session_bans``) and to the room's Redis ban set, which the
admission script checks. When Redis lost the room's state, reloading the room from the store
(``RoomAdmitter``) brings the bans back with it. The host (or a tenant admin) can lift a ban:
:meth:`Bans.lift` removes both, and the user may come back with a new room token.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from rooms.ids import new_id
from rooms.presence import Departure, Presence
from rooms.store import Database
from rooms.store.tables import BanRow
from rooms.store.types import utcnow

__all__ = ["Bans"]


class Bans:
    def __init__(self, database: Database, presence: Presence) -> None:
        self._db = database
        self._presence = presence

    async def ban(
        self,
        session_id: str,
        user_id: str,
        *,
        user_name: str,
        banned_by: str,
        reason: str | None,
    ) -> Departure:
        """Ban ``user_id`` for good and remove them from the room now."""
        try:
            async with self._db.transaction() as tx:
                tx.add(
                    BanRow(
                        id=new_id(),
                        session_id=session_id,
                        user_id=user_id,
                        user_name=user_name,
                        reason=reason,
                        banned_by=banned_by,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            pass  # banned already; the Redis side below is idempotent too
        return await self._presence.ban(session_id, user_id)

    async def is_banned(self, session_id: str, user_id: str) -> bool:
        async with self._db.transaction() as tx:
            found = await tx.scalar(
                select(BanRow.id).where(BanRow.session_id == session_id, BanRow.user_id == user_id)
            )
        return found is not None

    async def banned_users(self, session_id: str) -> list[str]:
        async with self._db.transaction() as tx:
            rows = await tx.execute(select(BanRow.user_id).where(BanRow.session_id == session_id))
            return list(rows.scalars())

    async def of_session(self, session_id: str) -> list[BanRow]:
        """The session's bans, oldest first."""
        async with self._db.transaction() as tx:
            rows = await tx.execute(
                select(BanRow).where(BanRow.session_id == session_id).order_by(BanRow.created_at)
            )
            return list(rows.scalars())

    async def lift(self, session_id: str, user_id: str) -> bool:
        """Let ``user_id`` back into the session (an undone removal); False if they were not
        banned."""
        async with self._db.transaction() as tx:
            found = await tx.scalar(
                select(BanRow.id).where(BanRow.session_id == session_id, BanRow.user_id == user_id)
            )
            if found is not None:
                await tx.execute(delete(BanRow).where(BanRow.id == found))
        await self._presence.unban(session_id, user_id)
        return found is not None
