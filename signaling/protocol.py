"""The liveclass WebSocket protocol, version 1: messages, encoding and decoding. No I/O.

Two subprotocols carry the same messages: ``liveclass.v1.json`` (text frames, the default) and
``liveclass.v1.msgpack`` (binary frames). Every message is an object with a ``type``. A client
request may carry ``rid`` (a string of at most 64 characters); the server answers it with an
``ack`` or an ``error`` carrying the same ``rid``. Server messages that must not be lost carry
the room's ``seq``.

Fields are only ever added, never renamed or removed; unknown fields sent by a client are
ignored (so newer clients work with older servers), unknown ``type`` values are an error.

The messages are the pydantic models of :mod:`rooms.protocol_models` (shared with the media
worker); this module does the encoding. Client → server (:data:`ClientMessage`):
  ``chat`` {text},
  ``signal`` {to, kind: offer|answer|ice|restart|unpublish|mute, sdp | candidate, offerId, layers},
  ``hand`` {raised}, ``mute`` {target, kind} (host), ``kick`` {target, reason} (host),
  ``end`` (host), ``allow`` {target, publish} (host: let a student publish), ``ping`` {ts},
  ``leave``, and the teaching tools' requests (rooms/teaching_messages.py: ``poll-*``,
  ``hand-lower``, ``react``, ``chat-delete``, ``chat-mode``, ``mute-all``, ``mic-lock``), the
  waiting room's (rooms/waiting_messages.py: ``waiting-room``, ``waiting-admit``,
  ``waiting-refuse``) and private questions' (rooms/question_messages.py: ``question-ask``,
  ``question-answer``, ``question-dismiss``).

Server → client (:data:`~rooms.protocol_models.ServerMessage`): built from the models by the
``*_message`` functions here and in signaling/messages.py: ``welcome``, ``presence``,
``count``, ``chat``, ``signal``, ``hand``, ``mute-request``, ``kicked``, ``recording``,
``room-ended``, ``ack``, ``error``, ``pong``, the teaching tools' notices (built in
signaling/teaching_protocol.py), the waiting room's (``waiting``, ``waiting-refused``,
``waiting-list``: signaling/waiting_protocol.py) and private questions' (``question``,
``questions``: signaling/questions.py).

:func:`decode` turns a frame into a validated message or raises :class:`ProtocolError`
(with the ``rid`` when one could be read), which the hub answers with an ``error`` message;
a malformed frame never closes the connection by itself.
"""

from __future__ import annotations

import json
from enum import StrEnum

import msgpack
from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter, ValidationError

from rooms.errors import BaseError
from rooms.protocol_models import (
    CLIENT_MESSAGES,
    Ack,
    Allow,
    Chat,
    ClientMessage,
    End,
    ErrorMessage,
    Hand,
    IceCandidate,
    Kick,
    Leave,
    Mute,
    Ping,
    Pong,
    Signal,
    WireMessage,
    type_of,
)
from rooms.untrusted import InputRefused, check_tree, parse_json, readable, readable_tree

__all__ = [
    "JSON_SUBPROTOCOL",
    "MSGPACK_SUBPROTOCOL",
    "PROTOCOL_VERSION",
    "SUBPROTOCOLS",
    "Allow",
    "Chat",
    "ClientMessage",
    "Codec",
    "End",
    "Hand",
    "IceCandidate",
    "Kick",
    "Leave",
    "Limits",
    "Mute",
    "Ping",
    "ProtocolError",
    "Signal",
    "decode",
    "encode",
    "wire_size",
]

PROTOCOL_VERSION = 1
JSON_SUBPROTOCOL = "liveclass.v1.json"
MSGPACK_SUBPROTOCOL = "liveclass.v1.msgpack"


class Codec(StrEnum):
    JSON = "json"
    MSGPACK = "msgpack"

    @property
    def subprotocol(self) -> str:
        return JSON_SUBPROTOCOL if self is Codec.JSON else MSGPACK_SUBPROTOCOL

    @classmethod
    def negotiate(cls, offered: list[str]) -> Codec | None:
        """The codec for the client's offered subprotocols (first match wins); JSON when the
        client offered none; None when it offered only ones we do not speak."""
        if not offered:
            return cls.JSON
        for name in offered:
            if name == JSON_SUBPROTOCOL:
                return cls.JSON
            if name == MSGPACK_SUBPROTOCOL:
                return cls.MSGPACK
        return None


SUBPROTOCOLS = (JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL)


class Limits(BaseModel):
    """Size limits of incoming frames (constructor arguments of the hub, from settings)."""

    model_config = ConfigDict(frozen=True)

    max_frame_bytes: int = 64 * 1024
    max_sdp_bytes: int = 48 * 1024


class ProtocolError(BaseError):
    """A frame the server cannot accept. ``code`` is sent back in an ``error`` message."""

    def __init__(
        self, code: str, message: str, *, rid: str | None = None, details: JsonValue = None
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.rid = rid


# -- client → server: the models live in rooms/protocol_models.py (media builds messages too) --

_CLIENT: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = frozenset(type_of(model) for model in CLIENT_MESSAGES)


def decode(frame: bytes | str, codec: Codec, limits: Limits | None = None) -> ClientMessage:
    """The message in ``frame``, validated; raises :class:`ProtocolError`.

    Error codes: ``frame_too_large``, ``invalid_frame`` (not JSON/MessagePack, not an object,
    nested too deep, a huge or non-finite number), ``invalid_text`` (NUL or a lone surrogate
    anywhere, ``rid`` included: nothing of such a frame is echoed back), ``unknown_type``,
    ``invalid_message`` (fields; ``details`` says which), ``sdp_too_large``.
    """
    limits = limits or _DEFAULT_LIMITS
    if wire_size(frame) > limits.max_frame_bytes:
        raise ProtocolError(
            "frame_too_large",
            f"frames carry at most {limits.max_frame_bytes} bytes",
            details={"limit": limits.max_frame_bytes},
        )
    try:
        if codec is Codec.JSON:
            data = parse_json(frame)
        else:
            if isinstance(frame, str):
                raise ValueError("msgpack frames are binary")
            data = msgpack.unpackb(frame, raw=False, strict_map_key=True, max_bin_len=0)
            check_tree(data)
    except InputRefused as exc:
        code = "invalid_text" if exc.bad else "invalid_frame"
        bad: JsonValue = [{"field": b.field, "message": b.message} for b in exc.bad] or None
        raise ProtocolError(code, exc.message, details=bad) from None
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise ProtocolError("invalid_frame", f"the frame is not valid {codec.value}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("invalid_frame", "a message is an object with a type")
    raw_rid = data.get("rid")
    rid = raw_rid if isinstance(raw_rid, str) and 0 < len(raw_rid) <= 64 else None
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown message type {kind!r}" if isinstance(kind, str) else "missing type",
            rid=rid,
        )
    try:
        message = _CLIENT.validate_python(data)
    except ValidationError as exc:
        details: JsonValue = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise ProtocolError(
            "invalid_message", f"invalid {kind} message", rid=rid, details=details
        ) from exc
    if isinstance(message, Signal):
        _check_signal(message, limits, rid)
    return message


def wire_size(frame: str | bytes) -> int:
    """The bytes ``frame`` takes on the wire: a text frame's UTF-8, not its characters (an
    emoji is one character and four bytes)."""
    if isinstance(frame, bytes) or frame.isascii():
        return len(frame)
    return len(frame.encode(errors="surrogatepass"))


def _check_signal(message: Signal, limits: Limits, rid: str | None) -> None:
    if message.kind in ("offer", "answer"):
        if not message.sdp:
            raise ProtocolError("invalid_message", f"an {message.kind} needs sdp", rid=rid)
        if len(message.sdp.encode()) > limits.max_sdp_bytes:
            raise ProtocolError(
                "sdp_too_large",
                f"SDP is limited to {limits.max_sdp_bytes} bytes",
                rid=rid,
                details={"limit": limits.max_sdp_bytes},
            )
    elif message.kind in ("restart", "unpublish", "mute"):
        if message.to != "sfu":
            raise ProtocolError("invalid_message", f"{message.kind} is for the sfu", rid=rid)
        if message.kind == "mute" and message.muted is None:
            raise ProtocolError("invalid_message", "mute needs muted: true or false", rid=rid)
    elif message.candidate is None:
        raise ProtocolError("invalid_message", "an ice signal needs a candidate", rid=rid)


_DEFAULT_LIMITS = Limits()


# -- server → client ------------------------------------------------------------------------


def encode(message: WireMessage, codec: Codec) -> bytes | str:
    """One frame for ``message`` (a server model's :meth:`~rooms.protocol_models.ServerModel.wire`
    dict): a ``str`` (text frame) for JSON, ``bytes`` for MessagePack.

    Encode a broadcast once per codec and send the same frame to every recipient. Text that
    UTF-8 cannot carry (a lone surrogate in a row stored before input was checked) goes out
    as U+FFFD, NaN and infinity as null: a frame is always sendable and parseable.
    """
    if codec is Codec.JSON:
        try:
            text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except ValueError:  # NaN or infinity: not JSON, and browsers' JSON.parse refuses it
            text = json.dumps(readable_tree(message), separators=(",", ":"), ensure_ascii=False)
        return readable(text)
    try:
        packed: bytes = msgpack.packb(message, use_bin_type=True)
    except UnicodeEncodeError:
        packed = msgpack.packb(readable_tree(message), use_bin_type=True)
    return packed


def ack_message(
    rid: str | None,
    *,
    id: str | None = None,
    seq: int | None = None,
    poll: str | None = None,
    status: str | None = None,
    choices: list[int] | None = None,
    enabled: bool | None = None,
    count: int | None = None,
) -> WireMessage:
    """The ``ack`` of request ``rid`` (with what it made: a chat's ``id`` and ``seq``; a poll
    request's ``poll``, ``status`` or ``choices``; the waiting room's ``enabled`` or
    ``count``)."""
    return Ack(
        rid=rid,
        id=id,
        seq=seq,
        poll=poll,
        status=status,
        choices=choices,
        enabled=enabled,
        count=count,
    ).wire()


def error_message(
    code: str, message: str, *, rid: str | None = None, details: JsonValue = None
) -> WireMessage:
    """An ``error``: ``code`` is stable (README, "Error codes"), ``message`` is for people."""
    return ErrorMessage(code=code, message=message, rid=rid, details=details).wire()


def pong_message(rid: str | None, ts: float | None, server_ts: float) -> WireMessage:
    """The ``pong`` answering a ``ping``."""
    return Pong(serverTs=server_ts, ts=ts, rid=rid).wire()
