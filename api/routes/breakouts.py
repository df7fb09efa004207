"""Breakout rooms over REST: list a class's rooms (with who spent how long in each), open
them, close them. Opening and closing here move people exactly as the host's WebSocket
requests do (``signaling/breakouts.py``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.endpoint import Api, Call
from rooms.breakout_messages import BreakoutSplit
from rooms.breakout_store import BreakoutRoom
from rooms.errors import InvalidState
from rooms.session_lookup import load_session, require_manage
from rooms.store.tables import SessionRow

api = Api("/api/v1")
TAGS = ["breakouts"]


class BreakoutPlan(BreakoutSplit):
    """How to split the class: the fields of the ``breakout-open`` message."""

    model_config = ConfigDict(extra="forbid")


class MemberOut(BaseModel):
    userId: str
    name: str
    timeInRoom: float = Field(description="Seconds spent in the room (so far, while open).")


class BreakoutOut(BaseModel):
    id: str = Field(description="The room's session id (a room token: POST /sessions/{id}/token).")
    name: str
    status: str = Field(description="live while open, ended once closed.")
    createdAt: datetime
    endsAt: datetime | None = Field(description="When its timer ends (null: no timer).")
    endedAt: datetime | None
    members: list[MemberOut]


class BreakoutList(BaseModel):
    open: bool = Field(description="Some rooms are open now.")
    rooms: list[BreakoutOut] = Field(description="Every breakout room of the class, oldest first.")


class BreakoutsClosed(BaseModel):
    closed: int = Field(description="How many rooms were closed.")


async def managed_class(call: Call, action: str) -> SessionRow:
    async with call.services.database.transaction() as tx:
        session = await load_session(tx, call.user, call.path("ref"))
    require_manage(call.user, session, action)
    if session.parent_id is not None:
        raise InvalidState("that is a breakout room, not a class", code="invalid_state")
    return session


async def listing(call: Call, session_id: str) -> BreakoutList:
    store = call.services.hub.breakouts.store
    rooms = await store.rooms(session_id)
    times = await store.time_in_rooms([r.id for r in rooms])
    return BreakoutList(
        open=any(r.open for r in rooms), rooms=[room_out(r, times.get(r.id, {})) for r in rooms]
    )


def room_out(room: BreakoutRoom, times: dict[str, float]) -> BreakoutOut:
    return BreakoutOut(
        id=room.id,
        name=room.name,
        status=room.status,
        createdAt=room.created_at,
        endsAt=room.ends_at,
        endedAt=room.ended_at,
        members=[
            MemberOut(userId=m.user_id, name=m.name, timeInRoom=round(times.get(m.user_id, 0), 1))
            for m in room.members
        ],
    )


@api.route(
    "GET",
    "/sessions/{ref}/breakouts",
    summary="A class's breakout rooms",
    tags=TAGS,
    response=BreakoutList,
    errors=(403, 404, 409),
)
async def list_breakouts(call: Call) -> BreakoutList:
    """The instructor or a tenant admin: every breakout room of the class (open and
    closed), its members and the seconds each spent in it (from the room's attendance)."""
    session = await managed_class(call, "read the breakout rooms of")
    return await listing(call, session.id)


@api.route(
    "POST",
    "/sessions/{ref}/breakouts",
    summary="Open breakout rooms",
    tags=TAGS,
    status=201,
    body=BreakoutPlan,
    response=BreakoutList,
    errors=(403, 404, 409),
)
async def open_breakouts(call: Call) -> BreakoutList:
    """Split the students in the class into rooms and send them there (each gets
    ``breakout``). 409 ``breakouts_open`` while rooms are open, ``invalid_state`` unless the
    class is live; 422 ``invalid_breakout`` for a split the rules refuse."""
    session = await managed_class(call, "open breakout rooms in")
    plan: BreakoutPlan = call.body
    await call.services.hub.breakouts.open(
        session.id,
        plan.rooms,
        manual=plan.assignments,
        names=plan.names,
        duration=plan.duration,
    )
    return await listing(call, session.id)


@api.route(
    "POST",
    "/sessions/{ref}/breakouts/close",
    summary="Close breakout rooms",
    tags=TAGS,
    response=BreakoutsClosed,
    errors=(403, 404, 409),
)
async def close_breakouts(call: Call) -> BreakoutsClosed:
    """Call everyone back to the main room (``breakout-ended``); the rooms end. Closing
    when none is open closes nothing (``closed: 0``)."""
    session = await managed_class(call, "close breakout rooms in")
    closed = await call.services.hub.breakouts.close(session.id, "the host called everyone back")
    return BreakoutsClosed(closed=len(closed))
