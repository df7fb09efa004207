"""The waiting room's server messages, built from the domain's state. No I/O.

The messages are the models of rooms/waiting_messages.py (members of the protocol's unions, so
decoded, documented and typed in JavaScript like the rest; their requests reach
``Lobby.handle`` in signaling/waiting_room.py through the ``ManageWaitingRoom`` effect); these
functions turn a waiter, a room and the list into their
:meth:`~rooms.message_base.ServerModel.wire` dicts:

``waiting`` {room: {id, name, title}, id} to a student who waits (instead of ``welcome``; the
``welcome`` follows once they are let in); ``waiting-refused`` {reason} to a student the host
refused, before their connection is closed with 4003; ``waiting-list`` {enabled, waiting: [{id,
userId, name, since}]} to hosts and moderators when they join and whenever the list or the
switch changes (the longest-waiting first).
"""

from __future__ import annotations

from typing import Any

from rooms.protocol_models import WireMessage
from rooms.waiting_messages import (
    WaiterView,
    Waiting,
    WaitingList,
    WaitingRefused,
    WaitingRoomView,
)
from rooms.waiting_room import Waiter

__all__ = ["waiting_list_message", "waiting_message", "waiting_refused_message"]


def waiting_message(waiter_id: str, room: dict[str, Any]) -> WireMessage:
    """``waiting`` for the waiter ``waiter_id``; ``room`` is the room's view (``RoomInfo.view``:
    its id, name and title are shown)."""
    view = WaitingRoomView(id=room["id"], name=room["name"], title=room["title"])
    return Waiting(id=waiter_id, room=view).wire()


def waiting_refused_message(reason: str) -> WireMessage:
    return WaitingRefused(reason=reason).wire()


def waiting_list_message(enabled: bool, waiters: list[Waiter]) -> WireMessage:
    waiting = [
        WaiterView(id=w.id, userId=w.user_id, name=w.name, since=w.since_ms) for w in waiters
    ]
    return WaitingList(enabled=enabled, waiting=waiting).wire()
