"""Per participant counters of a session for the teacher's analytics (rooms/analytics.py):
hands raised and seconds spoken, kept in ``participant_activity`` (one row per user and
session, deleted with the session).

Each addition is one statement: an insert that adds to the row when it exists (``ON CONFLICT
DO UPDATE``, on SQLite and PostgreSQL alike), so concurrent additions from several nodes
never lose a count.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.store import Database
from rooms.store.tables import ActivityRow
from rooms.store.types import utcnow

__all__ = ["Activity", "ActivityStore"]


@dataclass(frozen=True, slots=True)
class Activity:
    hands_raised: int = 0
    talk_seconds: float = 0.0


class ActivityStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def hand_raised(self, session_id: str, user_id: str) -> None:
        """``user_id`` raised their hand once more in the session."""
        async with self._db.transaction() as tx:
            await self._add(tx, session_id, user_id, hands=1, seconds=0.0)

    async def add_talk(self, session_id: str, seconds: dict[str, float]) -> None:
        """Add seconds spoken per user of the session, in one transaction (a batch)."""
        if not any(s > 0 for s in seconds.values()):
            return
        async with self._db.transaction() as tx:
            for user_id, value in sorted(seconds.items()):  # one lock order for every node
                if value > 0:
                    await self._add(tx, session_id, user_id, hands=0, seconds=value)

    async def by_user(self, session_id: str) -> dict[str, Activity]:
        """The session's counters: user id → :class:`Activity` (users with none are absent)."""
        async with self._db.transaction() as tx:
            rows = await tx.execute(
                select(
                    ActivityRow.user_id, ActivityRow.hands_raised, ActivityRow.talk_seconds
                ).where(ActivityRow.session_id == session_id)
            )
            return {
                str(uid): Activity(int(hands), round(float(talk), 1))
                for uid, hands, talk in rows.all()
            }

    async def _add(
        self, tx: AsyncSession, session_id: str, user_id: str, *, hands: int, seconds: float
    ) -> None:
        insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        now = utcnow()
        statement = insert(ActivityRow).values(
            session_id=session_id,
            user_id=user_id,
            hands_raised=hands,
            talk_seconds=seconds,
            updated_at=now,
        )
        table = ActivityRow.__table__.c
        await tx.execute(
            statement.on_conflict_do_update(
                index_elements=[table.session_id, table.user_id],
                set_={
                    "hands_raised": table.hands_raised + hands,
                    "talk_seconds": table.talk_seconds + seconds,
                    "updated_at": now,
                },
            )
        )
