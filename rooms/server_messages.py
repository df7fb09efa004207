"""Server → client messages of the liveclass protocol: one pydantic model each, and their
tagged union :data:`ServerMessage` (see rooms/protocol_models.py for the whole contract). The
teaching tools', the waiting room's and private questions' notices are members too.

Server messages are built as models and sent as :meth:`ServerModel.wire` dicts (what the
encoder, the bus and the room's replay log carry); ``None`` fields are left out of the frame.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from rooms.breakout_messages import BREAKOUT_NOTICES, BreakoutNotices
from rooms.message_base import ServerModel, WireMessage
from rooms.question_messages import QUESTION_NOTICES, QuestionNotice
from rooms.teaching_messages import TEACHING_NOTICES, TeachingNotice
from rooms.waiting_messages import WAITING_NOTICES, WaitingNotice

__all__ = [
    "SERVER_MESSAGES",
    "Ack",
    "ChatDelivery",
    "Count",
    "ErrorMessage",
    "Grants",
    "HandRaised",
    "Kicked",
    "MuteRequest",
    "ParticipantView",
    "Pong",
    "Presence",
    "Recording",
    "RoomEnded",
    "ServerMessage",
    "ServerModel",
    "ServerSignal",
    "Speakers",
    "Welcome",
    "WireMessage",
]


class ParticipantView(BaseModel):
    """A participant as rosters and presence show it."""

    model_config = ConfigDict(frozen=True)

    id: str
    userId: str
    name: str
    role: str
    joinedAt: int | None = None


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
    by: dict[str, str] | None = Field(
        default=None, description="Lowered by the host (``hand-lower``): who."
    )


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
    poll: str | None = Field(default=None, description="A poll request's poll id.")
    status: str | None = Field(
        default=None,
        description="A poll request: the poll's status; ``question-answer``/``-dismiss``: "
        "the question's.",
    )
    choices: list[int] | None = Field(default=None, description="A vote: the choices taken.")
    enabled: bool | None = Field(
        default=None, description="``waiting-room``: whether the waiting room is on now."
    )
    count: int | None = Field(
        default=None,
        description="``waiting-admit``/``-refuse``: how many it let in or refused; "
        "``breakout-close``, ``breakout-broadcast``: how many rooms.",
    )
    rooms: list[dict[str, str]] | None = Field(
        default=None, description="`breakout-open`: the rooms made (id, name)."
    )
    room: str | None = Field(default=None, description="`breakout-visit`: the room's id.")
    token: str | None = Field(default=None, description="`breakout-visit`: its room token.")


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
    | Pong
    | TeachingNotice
    | WaitingNotice
    | QuestionNotice
    | BreakoutNotices,
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
    *TEACHING_NOTICES,
    *WAITING_NOTICES,
    *QUESTION_NOTICES,
    *BREAKOUT_NOTICES,
)
