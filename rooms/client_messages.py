"""Client → server messages of the liveclass protocol: one pydantic model each, and their
tagged union :data:`ClientMessage` (see rooms/protocol_models.py for the whole contract). The
teaching tools', the waiting room's and private questions' requests are members too (their
models are in rooms/teaching_messages.py, rooms/waiting_messages.py,
rooms/question_messages.py).

Client models ignore unknown fields (a newer client works with an older server); each says
who may send it and what answers it (``x-who``, ``x-answer``: the docs are generated from them).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rooms.breakout_messages import BREAKOUT_REQUESTS, BreakoutRequest
from rooms.message_base import ClientModel as _ClientModel
from rooms.message_base import ParticipantRef
from rooms.message_base import documented as _documented
from rooms.question_messages import QUESTION_REQUESTS, QuestionRequest
from rooms.teaching_messages import TEACHING_REQUESTS, TeachingRequest
from rooms.waiting_messages import WAITING_REQUESTS, WaitingRequest

__all__ = [
    "CLIENT_MESSAGES",
    "Allow",
    "Chat",
    "ClientMessage",
    "End",
    "Hand",
    "IceCandidate",
    "Kick",
    "Leave",
    "Mute",
    "Ping",
    "Signal",
]


class Chat(_ClientModel):
    """Post a chat message to the room."""

    model_config = _documented(
        who="host, guests",
        answer=(
            "`chat` to everyone (including you) once admitted, `ack {id, seq}` once stored "
            "and durable; `unavailable` with `details {delivered, id, seq}` when the room got "
            "it but the database could not confirm it saved"
        ),
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
    layers: (
        Annotated[
            dict[Annotated[str, StringConstraints(max_length=64)], Literal["low", "high"]],
            Field(max_length=4),
        ]
        | None
    ) = Field(
        default=None,
        description="A camera offer to the SFU: the video m-lines (by mid) that carry the "
        "camera as separate encodings, ``low`` or ``high``; each viewer then gets the one "
        "its link carries. Without it (or with one layer) video is forwarded as sent.",
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
    Chat
    | Signal
    | Hand
    | Mute
    | Kick
    | Allow
    | End
    | Ping
    | Leave
    | TeachingRequest
    | WaitingRequest
    | QuestionRequest
    | BreakoutRequest,
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
    *TEACHING_REQUESTS,
    *WAITING_REQUESTS,
    *QUESTION_REQUESTS,
    *BREAKOUT_REQUESTS,
)
