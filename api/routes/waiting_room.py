"""A class's waiting room over REST, for the host: turn it on or off, see who waits, let
them in or refuse them (one, or everyone). The room hears of each change as if the host had
done it over WebSocket (``signaling/waiting_room.py``); students wait over WebSocket.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from api.endpoint import Api, Call
from api.routes.polls import session_for
from rooms.errors import Forbidden
from rooms.store.tables import SessionRow

api = Api("/api/v1")
TAGS = ["room"]


class WaiterOut(BaseModel):
    id: str = Field(description="The waiter's id (not a participant id: they have none yet).")
    userId: str
    name: str
    since: int = Field(description="When they began to wait, ms since the epoch.")


class WaitingRoomOut(BaseModel):
    enabled: bool = Field(description="Students wait until the host lets them in.")
    waiting: list[WaiterOut] = Field(description="Who waits now, the longest-waiting first.")


class WaitingRoomSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = Field(description="On: students wait. Off: everyone waiting is let in.")


class WaitingDecision(BaseModel):
    """One waiter (``id``) or everyone (``all``: true); exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    all: StrictBool = False

    @model_validator(mode="after")
    def _one(self) -> WaitingDecision:
        if (self.id is None) == (not self.all):
            raise ValueError("give either id or all: true")
        return self


class WaitingDecisionOut(BaseModel):
    count: int = Field(description="How many were let in (or refused) by this call.")


async def _host_session(call: Call) -> SessionRow:
    session, host = await session_for(call)
    if not host:
        raise Forbidden("only the host runs the waiting room", code="not_session_owner")
    return session


async def _state(call: Call, session_id: str) -> WaitingRoomOut:
    store = call.services.hub.lobby.store
    waiters = await store.waiting(session_id)
    return WaitingRoomOut(
        enabled=await store.enabled(session_id),
        waiting=[WaiterOut(**w.view()) for w in waiters],
    )


@api.route(
    "GET",
    "/sessions/{ref}/waiting-room",
    summary="The waiting room: on or off, and who waits",
    tags=TAGS,
    response=WaitingRoomOut,
    errors=(403, 404),
)
async def get_waiting_room(call: Call) -> WaitingRoomOut:
    """The session's instructor or a tenant admin."""
    session = await _host_session(call)
    return await _state(call, session.id)


@api.route(
    "PUT",
    "/sessions/{ref}/waiting-room",
    summary="Turn the waiting room on or off",
    tags=TAGS,
    body=WaitingRoomSwitch,
    response=WaitingRoomOut,
    errors=(403, 404),
)
async def put_waiting_room(call: Call) -> WaitingRoomOut:
    """The session's instructor or a tenant admin. On: students who join from now on wait
    (those in the class stay). Off: everyone waiting is let in."""
    session = await _host_session(call)
    body: WaitingRoomSwitch = call.body
    await call.services.hub.lobby.set_enabled(session.id, body.enabled)
    return await _state(call, session.id)


async def _decide(call: Call, admit: bool) -> WaitingDecisionOut:
    session = await _host_session(call)
    body: WaitingDecision = call.body
    ids = None if body.all else [str(body.id)]
    count = await call.services.hub.lobby.decide(session.id, ids, admit=admit)
    return WaitingDecisionOut(count=count)


@api.route(
    "POST",
    "/sessions/{ref}/waiting-room/admit",
    summary="Let one waiting student in, or everyone",
    tags=TAGS,
    body=WaitingDecision,
    response=WaitingDecisionOut,
    errors=(403, 404),
)
async def admit_waiting(call: Call) -> WaitingDecisionOut:
    """The student is seated by the ordinary admission (a full class still refuses them:
    they get ``room_full``). 404 ``waiter_not_found`` for an ``id`` nobody waits with."""
    return await _decide(call, admit=True)


@api.route(
    "POST",
    "/sessions/{ref}/waiting-room/refuse",
    summary="Send one waiting student away, or everyone",
    tags=TAGS,
    body=WaitingDecision,
    response=WaitingDecisionOut,
    errors=(403, 404),
)
async def refuse_waiting(call: Call) -> WaitingDecisionOut:
    """They get ``waiting-refused`` and their connection is closed with 4003 (joining again
    puts them back in the waiting room). 404 ``waiter_not_found`` for an unknown ``id``."""
    return await _decide(call, admit=False)
