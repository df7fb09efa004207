"""The waiting room's messages: its client models join
:data:`~rooms.client_messages.ClientMessage`, its server models
:data:`~rooms.server_messages.ServerMessage` (rooms/protocol_models.py has the whole contract).
signaling/waiting_room.py handles the requests (``Lobby.handle``); signaling/waiting_protocol.py
builds the notices from the domain's state (rooms/waiting_room.py).

None of these carries a ``seq``: the waiting list is sent whole to every host who joins and
after every change, so nothing of it is replayed on resume.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rooms.message_base import ClientModel, ServerModel, WireMessage, documented

__all__ = [
    "WAITING_NOTICES",
    "WAITING_REQUESTS",
    "WaiterView",
    "Waiting",
    "WaitingAdmit",
    "WaitingList",
    "WaitingNotice",
    "WaitingRefuse",
    "WaitingRefused",
    "WaitingRequest",
    "WaitingRoomSwitch",
    "WaitingRoomView",
]

WaiterRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]

# -- client → server ---------------------------------------------------------------------------


class WaitingRoomSwitch(ClientModel):
    """Host: turn the class's waiting room on or off (off lets everyone waiting in)."""

    model_config = documented(
        who="host",
        answer="`ack {enabled}`; hosts get `waiting-list`; off lets everyone waiting in",
    )

    type: Literal["waiting-room"]
    enabled: bool


class WaitingAdmit(ClientModel):
    """Host: let one waiting student in (``id`` from ``waiting-list``), or everyone waiting."""

    model_config = documented(
        who="host",
        answer="`ack {count}` (how many were let in); the waiter gets its `welcome` (seated by "
        "the ordinary admission: `room_full` if no seat is left); `waiter_not_found` for an "
        "unknown id",
    )

    type: Literal["waiting-admit"]
    id: WaiterRef | None = Field(
        default=None, description="A waiter's id (from `waiting-list`); without it: everyone."
    )


class WaitingRefuse(ClientModel):
    """Host: send one waiting student away (``id`` from ``waiting-list``), or everyone."""

    model_config = documented(
        who="host",
        answer="`ack {count}` (how many were refused); the waiter gets `waiting-refused` and a "
        "4003 close; `waiter_not_found` for an unknown id",
    )

    type: Literal["waiting-refuse"]
    id: WaiterRef | None = Field(
        default=None, description="A waiter's id (from `waiting-list`); without it: everyone."
    )


WaitingRequest = WaitingRoomSwitch | WaitingAdmit | WaitingRefuse

#: Every waiting-room request model, in the union's order.
WAITING_REQUESTS: tuple[type[ClientModel], ...] = (WaitingRoomSwitch, WaitingAdmit, WaitingRefuse)

# -- server → client ---------------------------------------------------------------------------


class WaitingRoomView(BaseModel):
    """The class a student waits for."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    title: str


class WaiterView(BaseModel):
    """A waiting student, as hosts see them."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The waiter's id (not a participant id; they have none yet).")
    userId: str
    name: str
    since: int = Field(description="When they came: milliseconds since the epoch.")


class Waiting(ServerModel):
    """You wait for the host to let you in (instead of ``welcome``; it follows once you are
    let in). Meanwhile ``ping`` gets ``pong``, other requests ``error`` ``waiting``."""

    type: Literal["waiting"] = "waiting"
    id: str = Field(description="Your waiter id.")
    room: WaitingRoomView

    def wire(self) -> WireMessage:
        out = super().wire()
        out["room"] = self.room.model_dump()
        return out


class WaitingRefused(ServerModel):
    """The host did not let you in; the connection closes with 4003."""

    type: Literal["waiting-refused"] = "waiting-refused"
    reason: str


class WaitingList(ServerModel):
    """Who waits (the longest-waiting first), and whether the waiting room is on: to hosts and
    moderators when they join and after every change (at most five a second)."""

    type: Literal["waiting-list"] = "waiting-list"
    enabled: bool
    waiting: list[WaiterView]

    def wire(self) -> WireMessage:
        out = super().wire()
        out["waiting"] = [w.model_dump() for w in self.waiting]
        return out


WaitingNotice = Waiting | WaitingRefused | WaitingList

#: Every waiting-room notice model, in the union's order.
WAITING_NOTICES: tuple[type[ServerModel], ...] = (Waiting, WaitingRefused, WaitingList)
