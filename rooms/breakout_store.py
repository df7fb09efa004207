"""Breakout rooms in SQL: each room is a child session of its class (``sessions.parent_id``),
so its presence, capacity, chat, sequence, attendance and media are those of any room.

A child session is created live, in the class's tenant, owned by the class's instructor,
named by its own id (``room_name``), with room for exactly its members (the host takes no
seat), and without enrollment: only its members are let in (``api/actions.py`` checks
:meth:`BreakoutStore.may_enter` before minting a student's token). Its ``metadata`` holds
``breakout``: ``{name, members: [{userId, name}], endsAt}``. The catalogue never lists them
(``rooms/session_reads.py``). Closing ends them (status ``ended``); the hub sends everyone
back to the class (``signaling/breakouts.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from rooms.breakouts import RoomPlan, Student
from rooms.errors import Conflict, InvalidState, NotFound
from rooms.ids import new_id
from rooms.model import SessionStatus
from rooms.store import Database
from rooms.store.tables import AttendanceRow, SessionRow
from rooms.store.types import utcnow

__all__ = ["BreakoutRoom", "BreakoutStore", "room_of_row"]


@dataclass(frozen=True, slots=True)
class BreakoutRoom:
    """One breakout room: its session id, name, members, status (``live`` while open,
    ``ended`` once closed) and when its timer ends (None: no timer)."""

    id: str
    parent_id: str
    name: str
    members: tuple[Student, ...]
    status: str
    ends_at: datetime | None
    created_at: datetime
    ended_at: datetime | None

    @property
    def open(self) -> bool:
        return self.status == SessionStatus.LIVE.value

    def has(self, user_id: str) -> bool:
        return any(m.user_id == user_id for m in self.members)


def room_of_row(row: SessionRow) -> BreakoutRoom:
    """The breakout room a child session row is."""
    info: dict[str, Any] = dict((row.meta or {}).get("breakout") or {})
    ends = info.get("endsAt")
    return BreakoutRoom(
        id=row.id,
        parent_id=row.parent_id or "",
        name=str(info.get("name") or row.title),
        members=tuple(
            Student(str(m.get("userId")), str(m.get("name"))) for m in info.get("members") or []
        ),
        status=row.status,
        ends_at=datetime.fromisoformat(ends) if isinstance(ends, str) else None,
        created_at=row.created_at,
        ended_at=row.ended_at,
    )


class BreakoutStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def open(
        self, parent_id: str, plans: Sequence[RoomPlan], duration: int | None
    ) -> list[BreakoutRoom]:
        """Create the class's breakout rooms (live at once). 409 ``breakouts_open`` while
        some are open, ``invalid_state`` unless the class is live."""
        now = utcnow()
        ends_at = now + timedelta(seconds=duration) if duration is not None else None
        async with self._db.transaction() as tx:
            parent = await tx.get(SessionRow, parent_id, with_for_update=True)
            if parent is None or parent.parent_id is not None:
                raise InvalidState("breakout rooms are opened from a class", code="invalid_state")
            if parent.status != SessionStatus.LIVE.value:
                raise InvalidState("the class is not live", code="invalid_state")
            live = await tx.scalar(
                select(SessionRow.id).where(
                    SessionRow.parent_id == parent_id,
                    SessionRow.status == SessionStatus.LIVE.value,
                )
            )
            if live is not None:
                raise Conflict(
                    "breakout rooms are open already; close them first", code="breakouts_open"
                )
            end = max(parent.scheduled_end, (ends_at or now) + timedelta(minutes=5))
            rows = []
            for plan in plans:
                child_id = new_id()
                meta = {
                    "breakout": {
                        "name": plan.name,
                        "members": [{"userId": m.user_id, "name": m.name} for m in plan.members],
                        "endsAt": ends_at.isoformat() if ends_at else None,
                    }
                }
                row = SessionRow(
                    id=child_id,
                    parent_id=parent_id,
                    tenant_id=parent.tenant_id,
                    room_name=child_id,
                    instructor_id=parent.instructor_id,
                    instructor_name=parent.instructor_name,
                    instructor_avatar=parent.instructor_avatar,
                    title=f"{parent.title} · {plan.name}"[:200],
                    description="",
                    session_type="group",
                    status=SessionStatus.LIVE.value,
                    scheduled_start=now,
                    scheduled_end=end,
                    started_at=now,
                    max_participants=min(500, max(1, len(plan.members))),
                    requires_enrollment=False,
                    meta=meta,
                    created_at=now,
                    updated_at=now,
                )
                tx.add(row)
                rows.append(row)
            await tx.flush()
            return [room_of_row(r) for r in rows]

    async def rooms(self, parent_id: str, *, open_only: bool = False) -> list[BreakoutRoom]:
        """The class's breakout rooms, oldest first (only the open ones with ``open_only``)."""
        query = select(SessionRow).where(SessionRow.parent_id == parent_id)
        if open_only:
            query = query.where(SessionRow.status == SessionStatus.LIVE.value)
        async with self._db.transaction() as tx:
            rows = (await tx.execute(query.order_by(SessionRow.created_at))).scalars()
            return [room_of_row(r) for r in rows]

    async def room(self, room_id: str) -> BreakoutRoom | None:
        """A breakout room by its session id (None: no such room, or a class)."""
        async with self._db.transaction() as tx:
            row = await tx.get(SessionRow, room_id)
            return room_of_row(row) if row is not None and row.parent_id is not None else None

    @staticmethod
    def may_enter(row: SessionRow, user_id: str) -> bool:
        """Whether a student may enter ``row``: any class; a breakout room if assigned."""
        if row.parent_id is None:
            return True
        return room_of_row(row).has(user_id)

    async def close(self, parent_id: str) -> list[BreakoutRoom]:
        """End the class's open breakout rooms; the rooms that were open (none: nothing)."""
        now = utcnow()
        async with self._db.transaction() as tx:
            rows = list(
                (
                    await tx.execute(
                        select(SessionRow)
                        .where(
                            SessionRow.parent_id == parent_id,
                            SessionRow.status == SessionStatus.LIVE.value,
                        )
                        .with_for_update()
                    )
                ).scalars()
            )
            if rows:
                await tx.execute(
                    update(SessionRow)
                    .where(SessionRow.id.in_([r.id for r in rows]))
                    .values(status=SessionStatus.ENDED.value, ended_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            return [room_of_row(r) for r in rows]

    async def move(
        self, parent_id: str, student: Student, room_id: str | None
    ) -> tuple[BreakoutRoom | None, list[BreakoutRoom]]:
        """Put ``student`` in open room ``room_id`` (None: the main room), out of any other;
        each changed room has room for exactly its members. Returns the room they were in
        (None: the main room) and the open rooms after the move. 409 ``no_breakouts`` when
        none is open, 404 ``breakout_not_found`` for a room that is not one of them."""
        async with self._db.transaction() as tx:
            rows = list(
                (
                    await tx.execute(
                        select(SessionRow)
                        .where(
                            SessionRow.parent_id == parent_id,
                            SessionRow.status == SessionStatus.LIVE.value,
                        )
                        .order_by(SessionRow.created_at)
                        .with_for_update()
                    )
                ).scalars()
            )
            if not rows:
                raise InvalidState("no breakout room is open", code="no_breakouts")
            if room_id is not None and room_id not in {r.id for r in rows}:
                raise NotFound("no such open breakout room", code="breakout_not_found")
            was: BreakoutRoom | None = None
            for row in rows:
                room = room_of_row(row)
                members = [m for m in room.members if m.user_id != student.user_id]
                if len(members) != len(room.members):
                    was = room
                if row.id == room_id:
                    members.append(student)
                if len(members) != len(room.members) or row.id == room_id:
                    info = dict(row.meta["breakout"])
                    info["members"] = [{"userId": m.user_id, "name": m.name} for m in members]
                    row.meta = {**row.meta, "breakout": info}
                    row.max_participants = min(500, max(1, len(members)))
                    row.updated_at = utcnow()
            await tx.flush()
            return was, [room_of_row(r) for r in rows]

    async def time_in_rooms(self, room_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Seconds each user spent in each room (room id → user id → seconds), from the
        rooms' attendance (a stay still open counts up to now)."""
        if not room_ids:
            return {}
        now = utcnow()
        out: dict[str, dict[str, float]] = {}
        async with self._db.transaction() as tx:
            rows = await tx.execute(
                select(
                    AttendanceRow.session_id,
                    AttendanceRow.user_id,
                    AttendanceRow.joined_at,
                    AttendanceRow.left_at,
                ).where(AttendanceRow.session_id.in_(list(room_ids)))
            )
            for sid, uid, joined, left in rows.all():
                seconds = max(0.0, ((left or now) - joined).total_seconds())
                per = out.setdefault(sid, {})
                per[uid] = per.get(uid, 0.0) + seconds
        return out
