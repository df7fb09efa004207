"""The hub's decisions, sans-I/O: given what a node knows (state), what arrived (a bus event,
a signal, a removal) and the time, what to do — as values the shell carries out.

Nothing here awaits, touches a socket, Redis or the store; every function is tested without
them (tests/signaling/test_room_core.py). The I/O shell around it:

- ``signaling/admission.py``: joins and resumes (token, admission, welcome, replay);
- ``signaling/effects.py``: carries out what ``ParticipantLogic`` decided for one frame;
- ``signaling/media_routing.py``: signals for the SFU, worker failover;
- ``signaling/presence_upkeep.py``: announcements, heartbeat, sweep, re-assertion;
- ``signaling/bus_listener.py``: the bus's events for this node's rooms and connections,
  executing :func:`room_event_actions` and :func:`direct_event_actions`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, assert_never

from rooms.bus_events import (
    Attach,
    BusEvent,
    CloseParticipant,
    Direct,
    ForParticipant,
    GrantChanged,
    MediaSignal,
    PresenceChanged,
    RecordCommand,
    Relay,
    RoomEndedEvent,
    RoomMessage,
    View,
    WaitingDecision,
)
from rooms.presence import PresenceEntry
from rooms.tokens import RoomGrant
from signaling import close_codes
from signaling.messages import grants_message, kicked_message, room_ended_message
from signaling.ordering import SeqOrder
from signaling.protocol import error_message

__all__ = [
    "AwaitGap",
    "CloseConnection",
    "DirectAction",
    "EndLocalRoom",
    "FanOut",
    "NotePresence",
    "ObserveLatency",
    "Regrant",
    "ReplayPlan",
    "RoomAction",
    "SendTo",
    "Unpublish",
    "close_for_gone",
    "direct_event_actions",
    "log_covers",
    "media_workers",
    "plan_replay",
    "room_event_actions",
    "sender_view",
]


# -- what a bus event for a local room or connection means ------------------------------------


@dataclass(frozen=True, slots=True)
class FanOut:
    """Send ``message`` to the room's local connections (``audience`` all or hosts, but not
    ``exclude``)."""

    message: dict[str, Any]
    audience: str = "all"
    exclude: str | None = None


@dataclass(frozen=True, slots=True)
class AwaitGap:
    """Reliable messages wait for a missing earlier ``seq``: release them anyway (with
    ``SeqOrder.expire``) at ``deadline`` unless it arrives first."""

    deadline: float


@dataclass(frozen=True, slots=True)
class ObserveLatency:
    """The event was published at ``sent_at`` (seconds): record its fan-out latency."""

    sent_at: float


@dataclass(frozen=True, slots=True)
class NotePresence:
    """Joins and leaves to coalesce into the room's next ``presence`` message."""

    joined: list[View]
    left: list[View]
    hidden: list[str]


@dataclass(frozen=True, slots=True)
class EndLocalRoom:
    """The room ended: send ``message`` to everyone here, close them all, forget the room."""

    message: dict[str, Any]


RoomAction = FanOut | AwaitGap | ObserveLatency | NotePresence | EndLocalRoom


def room_event_actions(order: SeqOrder, event: BusEvent, now: float) -> list[RoomAction]:
    """What a room-wide bus event (``msg``, ``presence``, ``ended``) asks of the room's local
    part at ``now``; other kinds ask nothing of it.

    ``order`` is the room's reorder buffer (its state, updated here): a reliable message for
    everyone is delivered in ``seq`` order, whatever order their publishers reached the bus
    in, so it may release several messages, or none while an earlier one is missing; one it
    delivered already (this node's own chat, delivered as published, then its echo) asks
    nothing."""
    match event:
        case RoomMessage():
            actions: list[RoomAction]
            if event.audience == "all" and event.exclude is None:
                if order.seen(event.message):
                    return []
                actions = [FanOut(message) for message in order.push(event.message, now)]
                if order.deadline is not None:
                    actions.append(AwaitGap(order.deadline))
            else:
                actions = [FanOut(event.message, event.audience, event.exclude)]
            if event.sent_at is not None:
                actions.append(ObserveLatency(event.sent_at))
            return actions
        case PresenceChanged():
            return [NotePresence(list(event.joined), list(event.left), list(event.hidden))]
        case RoomEndedEvent():
            return [EndLocalRoom(room_ended_message(event.reason))]
        case (
            Direct()
            | CloseParticipant()
            | GrantChanged()
            | MediaSignal()
            | Attach()
            | Relay()
            | RecordCommand()
            | WaitingDecision()
        ):
            return []
        case _:
            assert_never(event)


@dataclass(frozen=True, slots=True)
class SendTo:
    """Queue ``message`` on the participant's connection."""

    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close the participant's connection with ``code`` and forget it on this node."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Regrant:
    """The connection's permissions change to ``grant`` (the host allowed or withdrew
    publishing)."""

    grant: RoomGrant


@dataclass(frozen=True, slots=True)
class Unpublish:
    """Have the room's media worker stop forwarding what the participant publishes."""


DirectAction = SendTo | CloseConnection | Regrant | Unpublish


def direct_event_actions(event: ForParticipant, grant: RoomGrant | None) -> list[DirectAction]:
    """What an event for one seated participant (``direct``, ``close``, ``grant``) asks of
    their connection, whose current permissions are ``grant``."""
    match event:
        case Direct():
            return [SendTo(event.message)]
        case CloseParticipant():
            actions: list[DirectAction] = [] if event.message is None else [SendTo(event.message)]
            return [*actions, CloseConnection(event.code, event.reason)]
        case GrantChanged():
            if grant is None:
                return []
            new = replace(grant, can_publish=event.publish)
            grant_actions: list[DirectAction] = [Regrant(new), SendTo(grants_message(new.grants()))]
            return grant_actions if new.can_publish else [*grant_actions, Unpublish()]
        case _:
            assert_never(event)


def close_for_gone(reason: str) -> tuple[int, str, dict[str, Any] | None]:
    """The close (code, reason, last message) for a connection whose presence entry was
    removed for ``reason`` (see :meth:`Presence.gone`)."""
    if reason == "replaced":
        message = error_message("replaced", "you connected again elsewhere")
        return close_codes.REPLACED, "replaced by a newer connection", message
    if reason == "left":
        return close_codes.NORMAL, "left", None
    if reason == "banned":
        return close_codes.FORBIDDEN, "kicked", kicked_message(None)
    if reason == "ended":
        return close_codes.NORMAL, "room ended", room_ended_message("the class ended")
    # Purged as expired (this node looked dead), or not known: reconnect to rejoin.
    return close_codes.GOING_AWAY, "presence lost; reconnect", None


# -- media routing ----------------------------------------------------------------------------


def needs_assignment(kind: str, target: object) -> bool:
    """Whether routing a signal of ``kind`` needs the participant's assigned worker."""
    return kind == "restart" or (
        kind not in ("offer", "unpublish", "mute") and target != "publisher"
    )


def media_workers(kind: str, target: object, origin: str, assigned: str | None) -> list[str]:
    """The media workers a participant's signal for the SFU goes to, in sending order.

    Publishing (an offer, an unpublish, a mute, or ICE for the publishing connection) goes to
    the room's ``origin``; receiving (an answer, ICE for the receiving connection) to the
    worker the participant is ``assigned`` to, which in a big room may be a relay; ICE
    without a target, and a client's ``restart``, to both. The origin comes last: what it
    does in turn (serve a restarting participant through their relay) must reach the relay
    after this signal."""
    workers = {origin}
    if needs_assignment(kind, target) and assigned is not None:
        if kind != "restart" and (target == "subscriber" or kind == "answer"):
            workers = {assigned}
        else:
            workers = {origin, assigned}
    return sorted(workers, key=lambda w: w == origin)


# -- resume -----------------------------------------------------------------------------------


class ReplayPlan(Enum):
    """What a resume after ``last_seq`` gets replayed."""

    NOTHING = "nothing"  # it missed nothing
    TOO_MUCH = "too_much"  # more than the send queue may hold: the client reloads instead
    FROM_LOG = "from_log"  # the room's log, if it still holds all of it (:func:`log_covers`)


def plan_replay(last_seq: int, seq: int, outbox_frames: int) -> ReplayPlan:
    """Never more than half the send queue (the rest is for live messages): replaying more
    would overflow it (4008, and the client would resume into the same gap forever)."""
    if seq <= last_seq:
        return ReplayPlan.NOTHING
    if seq - last_seq > max(1, outbox_frames // 2):
        return ReplayPlan.TOO_MUCH
    return ReplayPlan.FROM_LOG


def log_covers(oldest: int | None, last_seq: int) -> bool:
    """Whether a room log whose oldest message is ``oldest`` holds everything after
    ``last_seq``."""
    return oldest is not None and oldest <= last_seq + 1


def sender_view(entry: PresenceEntry) -> dict[str, Any]:
    """The ``from`` of a message a participant sends."""
    return {
        "id": entry.participant_id,
        "userId": entry.user_id,
        "name": entry.name,
        "role": entry.role.value,
    }
