"""The waiting room's messages (protocol version 1): decoding and building. No I/O.

Client → server (the host and moderators; each may carry ``rid``, answered with ``ack`` or
``error``):
  ``waiting-room`` {enabled} turns the class's waiting room on or off (off lets everyone
  waiting in; the ack carries ``enabled``); ``waiting-admit`` {id?} lets one waiting student
  in (``id`` from ``waiting-list``), or everyone without ``id``; ``waiting-refuse`` {id?}
  sends one (or everyone) away. Their acks carry ``count``: how many this request moved.

Server → client:
  ``waiting`` {room: {id, name, title}, id} to a student who waits (instead of ``welcome``;
  the ``welcome`` follows once they are let in); ``waiting-refused`` {reason} to a student
  the host refused, before their connection is closed with 4003; ``waiting-list``
  {enabled, waiting: [{id, userId, name, since}]} to hosts and moderators when they join and
  whenever the list or the switch changes (the longest-waiting first).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, TypeAdapter

from rooms.waiting_room import Waiter
from signaling.protocol import Codec
from signaling.tool_protocol import ToolMessage, decode_tool

__all__ = [
    "WAITING_TYPES",
    "WaitingDecision",
    "WaitingRoomSet",
    "decode_waiting",
    "waiting_list_message",
    "waiting_message",
    "waiting_refused_message",
]

WaiterRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class WaitingRoomSet(ToolMessage):
    type: Literal["waiting-room"]
    enabled: bool


class WaitingDecision(ToolMessage):
    type: Literal["waiting-admit", "waiting-refuse"]
    id: WaiterRef | None = None


WaitingRequest = WaitingRoomSet | WaitingDecision
_ADAPTER = TypeAdapter[Any](Annotated[WaitingRequest, Field(discriminator="type")])
WAITING_TYPES = frozenset(["waiting-room", "waiting-admit", "waiting-refuse"])


def decode_waiting(frame: bytes | str, codec: Codec) -> WaitingRequest | None:
    """A waiting-room request in ``frame``, None for another type (see ``decode_tool``)."""
    message: WaitingRequest | None = decode_tool(frame, codec, WAITING_TYPES, _ADAPTER)
    return message


def waiting_message(waiter_id: str, room: dict[str, Any]) -> dict[str, Any]:
    view = {"id": room["id"], "name": room["name"], "title": room["title"]}
    return {"type": "waiting", "id": waiter_id, "room": view}


def waiting_refused_message(reason: str) -> dict[str, Any]:
    return {"type": "waiting-refused", "reason": reason}


def waiting_list_message(enabled: bool, waiters: list[Waiter]) -> dict[str, Any]:
    return {"type": "waiting-list", "enabled": enabled, "waiting": [w.view() for w in waiters]}
