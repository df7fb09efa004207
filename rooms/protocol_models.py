"""The liveclass WebSocket protocol's messages as typed models: one tagged union per direction.

This module is the single source of truth of the wire contract. It lives in ``rooms`` so that
both ``signaling`` (the hub, which decodes client messages and builds most server messages)
and ``media`` (the SFU worker, which builds ``signal``, ``error`` and ``speakers`` messages and
may not import ``signaling``) build the same shapes. It does no I/O and no encoding:
``signaling/protocol.py`` turns frames into :data:`ClientMessage` and server messages into
frames; ``python -m signaling.protocol_docs`` generates the JSON Schema, docs/protocol.md and
the JavaScript typedefs from it.

Models are pydantic v2 (measured against msgspec in ``bench/protocol_codec.py``; see
docs/protocol.md, "Why pydantic"). Adding a message: add a model here, add it to the union of
its direction, add its handler (``ParticipantLogic.handle`` fails mypy until it has one for a
client message), then regenerate (CONTRIBUTING.md). Fields are only ever added, never renamed
or removed.

Client messages ignore unknown fields (a newer client works with an older server). Server
messages are built with :meth:`ServerModel.wire`, the plain dict that goes to the encoder, the
bus and the room's replay log; fields that are ``None`` are left out of the frame.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

__all__ = [
    "BUS_KINDS",
    "CLIENT_MESSAGES",
    "SERVER_MESSAGES",
    "Ack",
    "Allow",
    "BusKind",
    "Chat",
    "ChatDelivery",
    "ClientMessage",
    "CloseCode",
    "Count",
    "End",
    "ErrorMessage",
    "Grants",
    "Hand",
    "HandRaised",
    "IceCandidate",
    "Kick",
    "Kicked",
    "Leave",
    "Mute",
    "MuteRequest",
    "ParticipantView",
    "Ping",
    "Pong",
    "Presence",
    "Recording",
    "RoomEnded",
    "Sender",
    "ServerMessage",
    "ServerModel",
    "ServerSignal",
    "Signal",
    "Speakers",
    "Welcome",
    "WireMessage",
    "type_of",
]

#: A server message as the encoder takes it: the JSON-shaped dict of a :class:`ServerModel`
#: (also what the bus and the replay log carry between nodes).
WireMessage = dict[str, Any]


#: What a bus event between nodes and media workers is (rooms/bus.py ``BusEvent.kind``):
#: ``msg`` a server message for the room (``message``; ``audience`` all/hosts), ``presence``
#: (``data``: ``joined``/``left`` participant views, ``hidden`` ids), ``direct`` a server
#: message for participant ``to``, ``close`` (close ``to`` with ``data.code``: kicked,
#: replaced), ``grant`` (``to``'s publish grant changed), ``ended`` (the room ended), ``sfu``
#: (a participant's signal for the media plane), ``attach``/``relay`` (between the media
#: workers of one room, media/worker.py), ``record`` (start or stop a server recording).
BusKind = Literal[
    "msg", "presence", "direct", "close", "grant", "ended", "sfu", "attach", "relay", "record"
]
BUS_KINDS: frozenset[str] = frozenset(get_args(BusKind))


class CloseCode(IntEnum):
    """Every WebSocket close code of the protocol (signaling/close_codes.py says when)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    INTERNAL_ERROR = 1011
    TRY_AGAIN = 1013
    REPLACED = 4000
    UNAUTHORIZED = 4001
    FORBIDDEN = 4003
    NOT_FOUND = 4004
    BAD_REQUEST = 4400
    TOO_SLOW = 4008
    ROOM_FULL = 4009
    NOT_LIVE = 4010
    RATE_LIMITED = 4029


# -- client → server ------------------------------------------------------------------------

Rid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ParticipantRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _documented(*, who: str, answer: str) -> ConfigDict:
    """A client model's config with who may send it and what answers it (docs, schema)."""
    return ConfigDict(
        extra="ignore", frozen=True, json_schema_extra={"x-who": who, "x-answer": answer}
    )


class _ClientModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    rid: Rid | None = Field(
        default=None, description="Request id: the server answers with an ack or error."
    )


class Chat(_ClientModel):
    """Post a chat message to the room."""

    model_config = _documented(
        who="host, guests",
        answer="`ack {id, seq}`, then `chat` to everyone (including you)",
    )

    type: Literal["chat"]
    text: Annotated[str, StringConstraints(max_length=100_000)]


class IceCandidate(BaseModel):
    """A WebRTC ICE candidate, as the browser's ``RTCIceCandidate.toJSON()`` gives it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    candidate: Annotated[str, StringConstraints(max_length=2048)]
    sdpMid: Annotated[str, StringConstraints(max_length=64)] | None = None
    sdpMLineIndex: Annotated[int, Field(ge=0, le=1024)] | None = None


class Signal(_ClientModel):
    """WebRTC negotiation: to a participant id (peer to peer) or to ``sfu``."""

    model_config = _documented(
        who="offers to the SFU need the publish grant; peer-to-peer only in `1-on-1` sessions",
        answer="the peer gets `signal {from, kind, ...}`",
    )

    type: Literal["signal"]
    to: ParticipantRef
    kind: Literal["offer", "answer", "ice", "restart", "unpublish", "mute"] = Field(
        description="``restart`` (to ``sfu`` only): my SFU connections are gone; start over. "
        "``unpublish`` (to ``sfu`` only): I stopped publishing (camera off); my tracks end for "
        "everyone. A later offer on a new peer connection publishes anew. ``mute`` (to ``sfu`` "
        "only, with ``muted``): my microphone is muted or not; the room is told (``speakers``)."
    )
    muted: bool | None = Field(default=None, description="``mute`` only: muted or not.")
    sdp: str | None = None
    candidate: IceCandidate | None = None
    target: Literal["publisher", "subscriber"] | None = Field(
        default=None, description="ICE only: which of your two SFU connections it is for."
    )
    source: Literal["camera", "screen"] | None = Field(
        default=None,
        description="An offer or ``unpublish`` to the SFU: which publication (a participant "
        "may publish a camera and a screen, each on its own connection); default camera.",
    )
    offerId: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None,
        description="An answer to the SFU: the ``offerId`` of the offer it answers (an "
        "answer to an offer replaced since is then ignored instead of misapplied). An offer "
        "to the SFU: the client's own id for it, echoed in the SFU's answer.",
    )


class Hand(_ClientModel):
    """Raise or lower my hand."""

    model_config = _documented(
        who="host, guests",
        answer="`ack {seq}`, `hand` to everyone",
    )

    type: Literal["hand"]
    raised: bool = True


class Mute(_ClientModel):
    """Host: ask a participant to mute."""

    model_config = _documented(
        who="host",
        answer="the target gets `mute-request`",
    )

    type: Literal["mute"]
    target: ParticipantRef
    kind: Literal["audio", "video", "all"] = "audio"


class Kick(_ClientModel):
    """Host: remove a participant (4003 for them, also on later attempts)."""

    model_config = _documented(
        who="host",
        answer="the target gets `kicked` and is closed with 4003, and stays out (also with a fresh "
        "token, and from every REST route of the session: 403 `banned`); a REST participant is "
        "removed and banned the same way",
    )

    type: Literal["kick"]
    target: ParticipantRef
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class Allow(_ClientModel):
    """Host: let a student publish media, or take it back."""

    model_config = _documented(
        who="host",
        answer="the target gets `grants`; the permission stays with the user for the session (a "
        "resume or a reload keeps it) until withdrawn",
    )

    type: Literal["allow"]
    target: ParticipantRef
    publish: bool = True


class End(_ClientModel):
    """Host: end the class for everyone."""

    model_config = _documented(
        who="host",
        answer="everyone gets `room-ended` and is closed (like `POST /end`)",
    )

    type: Literal["end"]


class Ping(_ClientModel):
    """Keep-alive and clock probe; answered with ``pong``."""

    model_config = _documented(
        who="anyone",
        answer="`pong {ts, serverTs}`",
    )

    type: Literal["ping"]
    ts: float | None = None


class Leave(_ClientModel):
    """I leave (closed with 1000)."""

    model_config = _documented(
        who="anyone",
        answer="`ack`, closed with 1000; the seat is free at once",
    )

    type: Literal["leave"]


ClientMessage = Annotated[
    Chat | Signal | Hand | Mute | Kick | Allow | End | Ping | Leave,
    Field(discriminator="type"),
]

#: Every client message model, in the union's order (docs, tests, JS typedefs).
CLIENT_MESSAGES: tuple[type[_ClientModel], ...] = (
    Chat,
    Signal,
    Hand,
    Mute,
    Kick,
    Allow,
    End,
    Ping,
    Leave,
)


# -- server → client ------------------------------------------------------------------------


#: Python field names that differ from their name on the wire (``from`` is a keyword).
_WIRE_NAMES = {"from_": "from"}


class ServerModel(BaseModel):
    """Base of server messages: :meth:`wire` gives the dict the encoder sends."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    def wire(self) -> WireMessage:
        """The message as it goes on the wire: aliases (``from``), ``None`` fields left out.

        Equal to ``model_dump(by_alias=True, exclude_none=True)`` (a test checks it) at a
        fraction of its cost: the hub builds every room message on its delivery path. Nested
        dicts and lists are shared, not copied: a built message is never mutated. A model with
        a nested model field dumps it in its own ``wire`` (:class:`Welcome`).
        """
        names = _WIRE_NAMES
        return {names.get(k, k): v for k, v in self.__dict__.items() if v is not None}


class ParticipantView(BaseModel):
    """A participant as rosters and presence show it."""

    model_config = ConfigDict(frozen=True)

    id: str
    userId: str
    name: str
    role: str
    joinedAt: int | None = None


class Sender(BaseModel):
    """Who sent a chat message, a hand or a mute request."""

    model_config = ConfigDict(frozen=True)

    id: str
    userId: str
    name: str
    role: str


class Welcome(ServerModel):
    """First message after admission (also after a resume: ``resumed``)."""

    type: Literal["welcome"] = "welcome"
    protocol: int
    participant: ParticipantView
    room: dict[str, JsonValue]
    count: int
    seats: int
    roster: list[dict[str, JsonValue]] | None = Field(
        default=None, description="Hosts, and everyone in small rooms."
    )
    resume: str = Field(description="The resume token for reconnecting (README, Resume).")
    seq: int = Field(description="The room's last seq: messages after it follow.")
    grants: dict[str, bool]
    resumed: bool
    iceServers: list[dict[str, JsonValue]]
    reload: dict[str, int] | None = Field(
        default=None, description="A resume whose gap is not replayed: read the history."
    )

    def wire(self) -> WireMessage:
        out = super().wire()
        out["participant"] = self.participant.model_dump(exclude_none=True)
        return out


class Presence(ServerModel):
    """Who joined and left since the last tick, with the live counts."""

    type: Literal["presence"] = "presence"
    joined: list[dict[str, JsonValue]]
    left: list[dict[str, JsonValue]]
    count: int
    seats: int


class Count(ServerModel):
    """The live counts alone (rooms too large for a roster)."""

    type: Literal["count"] = "count"
    count: int
    seats: int


class ChatDelivery(ServerModel):
    """A chat message of the room (also replayed on resume)."""

    type: Literal["chat"] = "chat"
    id: str
    seq: int
    from_: dict[str, str] = Field(alias="from", description="The sender: id, userId, name, role.")
    text: str
    ts: str = Field(description="ISO 8601 UTC with milliseconds, ``Z``.")


class ServerSignal(ServerModel):
    """WebRTC negotiation from a peer or from the SFU (``from``: ``sfu``)."""

    type: Literal["signal"] = "signal"
    from_: str = Field(alias="from")
    kind: str = Field(description="offer, answer, ice, restart, ...")
    sdp: str | None = None
    candidate: dict[str, JsonValue] | None = None
    target: str | None = None
    source: str | None = None
    offerId: str | None = Field(default=None, description="An SFU offer: echo it in the answer.")
    connectionId: str | None = None
    muted: bool | None = None
    reason: str | None = Field(default=None, description="``restart``: why.")


class HandRaised(ServerModel):
    """A participant raised or lowered a hand."""

    type: Literal["hand"] = "hand"
    seq: int
    from_: dict[str, str] = Field(alias="from", description="The sender: id, userId, name, role.")
    raised: bool


class MuteRequest(ServerModel):
    """The host asks you to mute."""

    type: Literal["mute-request"] = "mute-request"
    kind: str
    from_: dict[str, str] = Field(alias="from", description="The sender: id, userId, name, role.")


class Grants(ServerModel):
    """Your grants changed (the host allowed or stopped your publishing)."""

    type: Literal["grants"] = "grants"
    grants: dict[str, bool]


class Kicked(ServerModel):
    """The host removed you; the connection closes with 4003."""

    type: Literal["kicked"] = "kicked"
    reason: str


class Recording(ServerModel):
    """A server recording started, is ready, or failed (rooms/server_recordings.py)."""

    type: Literal["recording"] = "recording"
    seq: int
    status: str = Field(description="started, ready or failed")
    recordingId: str
    duration: float | None = Field(default=None, description="ready only")
    size: int | None = Field(default=None, description="ready only")
    reason: str | None = Field(default=None, description="failed only")


class RoomEnded(ServerModel):
    """The class ended; the connection closes with 1000."""

    type: Literal["room-ended"] = "room-ended"
    reason: str


class Speakers(ServerModel):
    """Who speaks (loudest first) and whose microphone is muted (from the SFU)."""

    type: Literal["speakers"] = "speakers"
    speakers: list[str]
    muted: list[str]


class Ack(ServerModel):
    """A request (``rid``) succeeded; some carry what it made (``id``, ``seq``)."""

    type: Literal["ack"] = "ack"
    rid: str | None = None
    id: str | None = None
    seq: int | None = None


class ErrorMessage(ServerModel):
    """A request or frame was refused; ``code`` is stable, ``message`` is for people."""

    type: Literal["error"] = "error"
    code: str
    message: str
    rid: str | None = None
    details: JsonValue = None
    from_: str | None = Field(default=None, alias="from", description="``sfu`` from the SFU.")


class Pong(ServerModel):
    """The answer to ``ping``."""

    type: Literal["pong"] = "pong"
    serverTs: float
    ts: float | None = None
    rid: str | None = None


ServerMessage = Annotated[
    Welcome
    | Presence
    | Count
    | ChatDelivery
    | ServerSignal
    | HandRaised
    | MuteRequest
    | Grants
    | Kicked
    | Recording
    | RoomEnded
    | Speakers
    | Ack
    | ErrorMessage
    | Pong,
    Field(discriminator="type"),
]

#: Every server message model, in the union's order.
SERVER_MESSAGES: tuple[type[ServerModel], ...] = (
    Welcome,
    Presence,
    Count,
    ChatDelivery,
    ServerSignal,
    HandRaised,
    MuteRequest,
    Grants,
    Kicked,
    Recording,
    RoomEnded,
    Speakers,
    Ack,
    ErrorMessage,
    Pong,
)


def type_of(model: type[BaseModel]) -> str:
    """The ``type`` tag of a message model (its ``Literal`` field)."""
    annotation = model.model_fields["type"].annotation
    tags = get_args(annotation)
    if len(tags) != 1 or not isinstance(tags[0], str):
        raise TypeError(f"{model.__name__}.type is not a one-string Literal")
    return tags[0]
