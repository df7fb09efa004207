"""Breakout rooms' messages: their client models join
:data:`~rooms.client_messages.ClientMessage`, their server models
:data:`~rooms.server_messages.ServerMessage` (rooms/protocol_models.py has the whole
contract). signaling/breakouts.py handles the requests and sends the notices.

None of these is reliable (no ``seq``, never replayed): what a client needs after a resume
or a reload it gets again after its ``welcome`` (``breakouts`` for a host of the class,
``breakout`` for a student assigned to an open room and for anyone inside a breakout room).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rooms.breakouts import MAX_DURATION, MAX_NAME_CHARS, MAX_ROOMS, MIN_DURATION
from rooms.message_base import ClientModel, ServerModel, WireMessage, documented

__all__ = [
    "BREAKOUT_NOTICES",
    "BREAKOUT_REQUESTS",
    "BreakoutAssigned",
    "BreakoutBroadcast",
    "BreakoutClose",
    "BreakoutEnded",
    "BreakoutMember",
    "BreakoutMove",
    "BreakoutNotice",
    "BreakoutNotices",
    "BreakoutOpen",
    "BreakoutRequest",
    "BreakoutSplit",
    "BreakoutState",
    "BreakoutView",
    "BreakoutVisit",
]

UserRef = Annotated[str, StringConstraints(min_length=1, max_length=128)]
RoomRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]

# -- client → server ---------------------------------------------------------------------------


class BreakoutSplit(BaseModel):
    """How to split the class: the fields of ``breakout-open``, and the body of
    ``POST /api/v1/sessions/{ref}/breakouts`` (api/routes/breakouts.py), which splits it the
    same way."""

    rooms: Annotated[int, Field(ge=1, le=MAX_ROOMS, description=f"1 to {MAX_ROOMS} rooms.")]
    assignments: Annotated[dict[UserRef, int], Field(max_length=500)] | None = Field(
        default=None,
        description="By hand: user id → room index (0-based); students left out stay in the "
        "main room. Without it the students present are shuffled into rooms of equal size.",
    )
    names: (
        Annotated[
            list[Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS * 2)]],
            Field(max_length=MAX_ROOMS),
        ]
        | None
    ) = Field(default=None, description="One name per room (default `Room 1`...).")
    duration: Annotated[int, Field(ge=MIN_DURATION, le=MAX_DURATION)] | None = Field(
        default=None,
        description="The timer in seconds: everyone comes back by themselves when it ends.",
    )


class BreakoutOpen(ClientModel, BreakoutSplit):
    """Host: split the class into breakout rooms and send the students there."""

    model_config = documented(
        who="host",
        answer="`ack {rooms: [{id, name}]}`; each assigned student gets `breakout` (and moves), "
        "the hosts `breakouts`; `breakouts_open` while rooms are open, `invalid_breakout` for "
        "a bad split",
    )

    type: Literal["breakout-open"]


class BreakoutClose(ClientModel):
    """Host: close the breakout rooms and call everyone back to the main room."""

    model_config = documented(
        who="host",
        answer="`ack {count}`; every room gets `breakout-ended` (back to the main room) and "
        "is closed, the hosts `breakouts`",
    )

    type: Literal["breakout-close"]


class BreakoutBroadcast(ClientModel):
    """Host: a message to every breakout room (and the main room)."""

    model_config = documented(
        who="host",
        answer="`ack {count}`; `breakout-notice {text, by}` to everyone in every open room "
        "and the main room; `no_breakouts` when none is open",
    )

    type: Literal["breakout-broadcast"]
    text: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class BreakoutVisit(ClientModel):
    """Host: a room token to visit one open breakout room."""

    model_config = documented(
        who="host",
        answer="`ack {room, token}` (a host's token for that room); `breakout_not_found`",
    )

    type: Literal["breakout-visit"]
    room: RoomRef


class BreakoutMove(ClientModel):
    """Host: put a student in another open breakout room, or back in the main room."""

    model_config = documented(
        who="host",
        answer="`ack {room}`; the student (if connected, in the main room or a breakout room) "
        "gets `breakout` (with a token) or `breakout-ended` (to the main room), the hosts "
        "`breakouts`; `breakout_not_found`, `no_breakouts`",
    )

    type: Literal["breakout-move"]
    userId: UserRef
    name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="Their name, for someone not in the class yet."
    )
    room: RoomRef | None = Field(default=None, description="The room's id; none: the main room.")


BreakoutRequest = BreakoutOpen | BreakoutClose | BreakoutBroadcast | BreakoutVisit | BreakoutMove

#: Every breakout request model, in the union's order.
BREAKOUT_REQUESTS: tuple[type[ClientModel], ...] = (
    BreakoutOpen,
    BreakoutClose,
    BreakoutBroadcast,
    BreakoutVisit,
    BreakoutMove,
)

# -- server → client ---------------------------------------------------------------------------


class BreakoutMember(BaseModel):
    model_config = ConfigDict(frozen=True)

    userId: str
    name: str


class BreakoutView(BaseModel):
    """One breakout room as clients see it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The room's session id (its own room token, chat, presence).")
    name: str
    members: list[BreakoutMember] | None = Field(
        default=None, description="Who was sent there (in `breakouts`, for the hosts)."
    )


class BreakoutAssigned(ServerModel):
    """Go to (or: you are in) a breakout room of the class ``parent``."""

    type: Literal["breakout"] = "breakout"
    room: BreakoutView
    parent: str = Field(description="The class's session id: the main room to come back to.")
    token: str | None = Field(
        default=None,
        description="A room token for the breakout room (when you are to move there; "
        "reconnect with `POST /sessions/{room id}/token`).",
    )
    endsAt: int | None = Field(default=None, description="When the timer ends (ms since epoch).")

    def wire(self) -> WireMessage:
        out = super().wire()
        out["room"] = self.room.model_dump(exclude_none=True)
        return out


class BreakoutState(ServerModel):
    """The class's breakout rooms, for the hosts of the main room (after each change and
    after their welcome)."""

    type: Literal["breakouts"] = "breakouts"
    open: bool
    rooms: list[BreakoutView]
    endsAt: int | None = None

    def wire(self) -> WireMessage:
        out = super().wire()
        out["rooms"] = [r.model_dump(exclude_none=True) for r in self.rooms]
        return out


class BreakoutNotice(ServerModel):
    """The host's message to every breakout room."""

    type: Literal["breakout-notice"] = "breakout-notice"
    text: str
    by: dict[str, str] | None = Field(default=None, description="The host: id, userId, name.")


class BreakoutEnded(ServerModel):
    """The breakout rooms closed: go back to the main room ``parent``."""

    type: Literal["breakout-ended"] = "breakout-ended"
    parent: str
    reason: str


BreakoutNotices = BreakoutAssigned | BreakoutState | BreakoutNotice | BreakoutEnded

#: Every breakout notice model, in the union's order.
BREAKOUT_NOTICES: tuple[type[ServerModel], ...] = (
    BreakoutAssigned,
    BreakoutState,
    BreakoutNotice,
    BreakoutEnded,
)
