"""The events on the bus between nodes and media workers: one typed class per kind, and their
tagged union :data:`BusEvent` (consumers ``match`` on the class, with ``assert_never``).

The wire format is the MessagePack map every node already speaks (so nodes of two versions
interoperate during a rolling upgrade): ``k`` the kind, ``s`` the session, ``o`` the origin
(node or worker id), ``m`` a server message's wire dict, ``t`` the participant it is for,
``a``/``x`` the audience and the one left out, ``d`` the kind's own fields.
rooms/bus_codec.py (``encode``, ``decode``) is the only place that sees the untyped map.

Each class says its kind. An event of a kind this version does not know decodes to ``None``
and is skipped (kinds and fields are only ever added). Adding a kind: a class, a member of
:data:`BusEvent`, a ``case`` in rooms/bus_codec.py's ``_map`` and a decoder there
(tests/rooms/test_bus_events.py fails until all are done).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from pydantic import JsonValue

from rooms.message_base import WireMessage

__all__ = [
    "BUS_KINDS",
    "Attach",
    "Audience",
    "BusEvent",
    "BusKind",
    "CloseParticipant",
    "Direct",
    "ForParticipant",
    "GrantChanged",
    "MediaSignal",
    "PresenceChanged",
    "Record",
    "RecordCommand",
    "Relay",
    "RoomEndedEvent",
    "RoomMessage",
    "View",
    "WaitingDecision",
]

BusKind = Literal[
    "msg",
    "presence",
    "direct",
    "close",
    "grant",
    "ended",
    "sfu",
    "attach",
    "relay",
    "record",
    "waiting",
]
BUS_KINDS: frozenset[str] = frozenset(get_args(BusKind))

#: Who in the room gets a :class:`RoomMessage`: ``all``, ``hosts``, or ``hosts+<user id>`` (the
#: hosts and that user: a private question and its answer; signaling/local_room.py).
Audience = str
#: A participant as rosters show it (signaling/messages.py ``participant_view``).
View = dict[str, JsonValue]
#: What a :class:`RecordCommand` asks.
Record = Literal["start", "stop"]


@dataclass(slots=True)
class RoomMessage:
    """``msg``: a server message for the room's connections on every node (``audience``,
    but ``exclude``); ``sent_at``: when it was published (the fan-out latency metric)."""

    session_id: str
    message: WireMessage
    origin: str = ""
    audience: Audience = "all"
    exclude: str | None = None
    sent_at: float | None = None


@dataclass(slots=True)
class PresenceChanged:
    """``presence``: who joined and left (participant views), and which of them are hidden
    (observers); every node batches them into its ``presence``/``count`` messages."""

    session_id: str
    origin: str = ""
    joined: list[View] = field(default_factory=list)
    left: list[View] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Direct:
    """``direct``: a server message for participant ``to``, on the node that holds them."""

    session_id: str
    message: WireMessage
    to: str = ""
    origin: str = ""


@dataclass(slots=True)
class CloseParticipant:
    """``close``: close ``to``'s connection with ``code`` (kicked, replaced, ...), after
    ``message`` when there is one."""

    session_id: str
    to: str
    code: int
    reason: str = ""
    message: WireMessage | None = None
    origin: str = ""


@dataclass(slots=True)
class GrantChanged:
    """``grant``: the host allowed ``to`` to publish, or withdrew it."""

    session_id: str
    publish: bool
    to: str = ""
    origin: str = ""


@dataclass(slots=True)
class RoomEndedEvent:
    """``ended``: the room ended; every node closes its connections of it."""

    session_id: str
    reason: str = "the class ended"
    origin: str = ""


@dataclass(slots=True)
class MediaSignal:
    """``sfu``: a participant's signal for the media plane, to a media worker. ``kind`` is the
    client's ``signal`` kind (``offer``, ``answer``, ``ice``, ``restart``, ``unpublish``,
    ``mute``) or the hub's ``resubscribe``; ``signal`` the client's validated fields
    (``sdp``, ``candidate``, ``target``, ``offerId``, ``muted``, ``layers``, ``source``)."""

    session_id: str
    participant: str
    kind: str
    origin: str = ""
    user: str | None = None
    role: str | None = None
    publish: bool = False
    signal: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(slots=True)
class Attach:
    """``attach``: the origin worker asks a relay worker to serve ``participant`` the room's
    media (``fresh``: their receiving connection was replaced)."""

    session_id: str
    participant: str
    origin_worker: str
    fresh: bool = False
    origin: str = ""


@dataclass(slots=True)
class Relay:
    """``relay``: one step of the origin ↔ relay negotiation between the media workers of a
    room (``step``: ``request``, ``offer`` or ``answer``) from ``worker``."""

    session_id: str
    worker: str
    step: str
    sdp: str | None = None
    offer_id: str | None = None
    fresh: bool = False
    origin: str = ""


@dataclass(slots=True)
class RecordCommand:
    """``record``: start or stop server recording ``recording`` (to the file at ``path``)."""

    session_id: str
    action: Record
    recording: str
    path: str | None = None
    origin: str = ""


@dataclass(slots=True)
class WaitingDecision:
    """``waiting``: the host's decision (``admit``, ``refuse``, ``ended``) on waiter ``to``,
    for the node that holds them (signaling/waiting_room.py)."""

    session_id: str
    to: str
    decision: str
    origin: str = ""


#: The events for one participant, delivered on the node that holds them.
ForParticipant = Direct | CloseParticipant | GrantChanged

BusEvent = (
    RoomMessage
    | PresenceChanged
    | Direct
    | CloseParticipant
    | GrantChanged
    | RoomEndedEvent
    | MediaSignal
    | Attach
    | Relay
    | RecordCommand
    | WaitingDecision
)
