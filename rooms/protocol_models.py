"""The liveclass WebSocket protocol's messages as typed models: one tagged union per direction.

This module is the single source of truth of the wire contract: the client messages
(rooms/client_messages.py), the server messages (rooms/server_messages.py), the teaching
tools', the waiting room's and private questions' messages of both directions
(rooms/teaching_messages.py, rooms/waiting_messages.py, rooms/question_messages.py, members
of the same two unions), the close codes and the kinds of bus events (rooms/bus_events.py
has the events), all importable from here. It lives in ``rooms`` so that both
``signaling`` (the hub, which decodes client messages and builds most server messages) and
``media`` (the SFU worker, which builds ``signal``, ``error`` and ``speakers`` messages and
may not import ``signaling``) build the same shapes. It does no I/O and no encoding:
``signaling/protocol.py`` turns frames into :data:`ClientMessage` and server messages into
frames; ``python -m signaling.protocol_docs`` generates the JSON Schema, docs/protocol.md and
the JavaScript typedefs from it.

Models are pydantic v2 (measured against msgspec in ``bench/protocol_codec.py``; see
docs/codec.md). Adding a message: add a model to its direction's module and to the union of
its direction, add its handler (``ParticipantLogic.handle`` fails mypy until it has one for a
client message; a teaching request needs one in ``Teaching._handle`` too, a waiting-room
request in ``Lobby.handle``, a question request in ``QuestionDesk._handle``), then regenerate
(CONTRIBUTING.md). Fields are only ever added, never renamed
or removed.

Client messages ignore unknown fields (a newer client works with an older server). Server
messages are built with :meth:`ServerModel.wire`, the plain dict that goes to the encoder, the
bus and the room's replay log; fields that are ``None`` are left out of the frame.
"""

from __future__ import annotations

from enum import IntEnum
from typing import get_args

from pydantic import BaseModel

from rooms.bus_events import BUS_KINDS, BusKind
from rooms.client_messages import (
    CLIENT_MESSAGES,
    Allow,
    Chat,
    ClientMessage,
    End,
    Hand,
    IceCandidate,
    Kick,
    Leave,
    Mute,
    Ping,
    Signal,
)
from rooms.question_messages import (
    QUESTION_NOTICES,
    QUESTION_REQUESTS,
    QuestionAnswer,
    QuestionAsk,
    QuestionDismiss,
    QuestionList,
    QuestionNotice,
    QuestionRequest,
    QuestionShown,
    QuestionView,
)
from rooms.server_messages import (
    SERVER_MESSAGES,
    Ack,
    ChatDelivery,
    Count,
    ErrorMessage,
    Grants,
    HandRaised,
    Kicked,
    MuteRequest,
    ParticipantView,
    Pong,
    Presence,
    Recording,
    RoomEnded,
    ServerMessage,
    ServerModel,
    ServerSignal,
    Speakers,
    Welcome,
    WireMessage,
)
from rooms.teaching_messages import (
    TEACHING_NOTICES,
    TEACHING_REQUESTS,
    Ballot,
    ChatDelete,
    ChatDeleted,
    ChatMode,
    ChatModeChanged,
    HandLower,
    HandsLowered,
    MicLockChanged,
    MicLockSet,
    MuteAll,
    MutedAll,
    PollClose,
    PollCreate,
    PollLaunch,
    PollResults,
    PollShare,
    PollShown,
    PollTally,
    PollView,
    PollVote,
    React,
    Reactions,
    TeachingNotice,
    TeachingRequest,
)
from rooms.waiting_messages import (
    WAITING_NOTICES,
    WAITING_REQUESTS,
    WaiterView,
    Waiting,
    WaitingAdmit,
    WaitingList,
    WaitingNotice,
    WaitingRefuse,
    WaitingRefused,
    WaitingRequest,
    WaitingRoomSwitch,
    WaitingRoomView,
)

__all__ = [
    "BUS_KINDS",
    "CLIENT_MESSAGES",
    "QUESTION_NOTICES",
    "QUESTION_REQUESTS",
    "SERVER_MESSAGES",
    "TEACHING_NOTICES",
    "TEACHING_REQUESTS",
    "WAITING_NOTICES",
    "WAITING_REQUESTS",
    "Ack",
    "Allow",
    "Ballot",
    "BusKind",
    "Chat",
    "ChatDelete",
    "ChatDeleted",
    "ChatDelivery",
    "ChatMode",
    "ChatModeChanged",
    "ClientMessage",
    "CloseCode",
    "Count",
    "End",
    "ErrorMessage",
    "Grants",
    "Hand",
    "HandLower",
    "HandRaised",
    "HandsLowered",
    "IceCandidate",
    "Kick",
    "Kicked",
    "Leave",
    "MicLockChanged",
    "MicLockSet",
    "Mute",
    "MuteAll",
    "MuteRequest",
    "MutedAll",
    "ParticipantView",
    "Ping",
    "PollClose",
    "PollCreate",
    "PollLaunch",
    "PollResults",
    "PollShare",
    "PollShown",
    "PollTally",
    "PollView",
    "PollVote",
    "Pong",
    "Presence",
    "QuestionAnswer",
    "QuestionAsk",
    "QuestionDismiss",
    "QuestionList",
    "QuestionNotice",
    "QuestionRequest",
    "QuestionShown",
    "QuestionView",
    "React",
    "Reactions",
    "Recording",
    "RoomEnded",
    "ServerMessage",
    "ServerModel",
    "ServerSignal",
    "Signal",
    "Speakers",
    "TeachingNotice",
    "TeachingRequest",
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
    "Welcome",
    "WireMessage",
    "type_of",
]


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


def type_of(model: type[BaseModel]) -> str:
    """The ``type`` tag of a message model (its ``Literal`` field)."""
    annotation = model.model_fields["type"].annotation
    tags = get_args(annotation)
    if len(tags) != 1 or not isinstance(tags[0], str):
        raise TypeError(f"{model.__name__}.type is not a one-string Literal")
    return tags[0]
