"""The sans-I/O half of the room client: frames to messages, the join URL, what was read but
not yet taken, and the ``seq`` a resume asks for.

The server may batch several messages into one frame (a JSON or MessagePack array): every
function here returns a list, and :class:`Inbox` keeps the messages after the one a caller
waited for, so none is lost with its frame.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgpack

from signaling.protocol import Codec

__all__ = [
    "GOING_AWAY",
    "TRY_AGAIN_LATER",
    "Inbox",
    "Message",
    "SeqTracker",
    "decode_frame",
    "encode_message",
    "room_url",
]

#: A server message as decoded (typed models come with the typed protocol).
Message = dict[str, Any]

#: The node is going away (restart, drain): resume elsewhere.
GOING_AWAY = 1001
#: The server is overloaded or not ready: try again.
TRY_AGAIN_LATER = 1013


def decode_frame(frame: str | bytes, codec: Codec | None = None) -> list[Message]:
    """The messages in one frame of ``codec`` (by default: a text frame is JSON, a binary
    frame MessagePack); an array is a batch. Raises ``ValueError`` (JSON) or a ``msgpack``
    error on a malformed frame."""
    if codec is None:
        codec = Codec.JSON if isinstance(frame, str) else Codec.MSGPACK
    data = json.loads(frame) if codec is Codec.JSON else msgpack.unpackb(frame)
    return data if isinstance(data, list) else [data]


def encode_message(message: Message, codec: Codec) -> str | bytes:
    """``message`` as the frame ``codec`` sends: JSON text or MessagePack bytes."""
    if codec is Codec.JSON:
        return json.dumps(message, separators=(",", ":"))
    packed: bytes = msgpack.packb(message)
    return packed


def room_url(
    url: str,
    token: str | None = None,
    *,
    resume: str | None = None,
    last_seq: int | None = None,
) -> str:
    """``url`` (the server's ``/ws``) with the join query: ``token``, and for a resume the
    ``resume`` token of the last welcome and ``lastSeq``, the highest seq the client holds.
    Keeps a query ``url`` already has."""
    query: dict[str, str] = {}
    if token is not None:
        query["token"] = token
    if resume is not None:
        query["resume"] = resume
        query["lastSeq"] = str(last_seq or 0)
    if not query:
        return url
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}{urlencode(query)}"


class Inbox:
    """Messages received and not yet taken, in arrival order."""

    def __init__(self) -> None:
        self._unread: deque[Message] = deque()

    def __len__(self) -> int:
        return len(self._unread)

    def add(self, messages: list[Message]) -> None:
        self._unread.extend(messages)

    def take(self, match: Callable[[Message], bool]) -> Message | None:
        """The first unread message ``match`` accepts, removed; None when there is none (the
        others stay)."""
        for i, message in enumerate(self._unread):
            if match(message):
                del self._unread[i]
                return message
        return None

    def drain(self) -> list[Message]:
        """Every unread message, removed."""
        out = list(self._unread)
        self._unread.clear()
        return out


def matcher(match: str | Callable[[Message], bool] | None) -> Callable[[Message], bool]:
    """A predicate from a message type (``"chat"``), a predicate, or None (any message)."""
    if match is None:
        return lambda _message: True
    if isinstance(match, str):
        kind = match
        return lambda message: message.get("type") == kind
    return match


class SeqTracker:
    """The highest ``seq`` up to which every reliable message arrived: what a resume sends as
    ``lastSeq`` so the server replays exactly the gap. Replayed and live messages may
    interleave, so seqs are kept until the run below them is complete."""

    def __init__(self) -> None:
        self._base = 0
        self._ahead: set[int] = set()

    def start(self, seq: int) -> None:
        """A fresh (not resumed) welcome: the room's history before ``seq`` is not ours."""
        self._base = max(self._base, seq)
        self._ahead = {s for s in self._ahead if s > self._base}
        self._advance()

    def seen(self, seq: int) -> None:
        if seq > self._base:
            self._ahead.add(seq)
            self._advance()

    def _advance(self) -> None:
        while self._base + 1 in self._ahead:
            self._base += 1
            self._ahead.discard(self._base)

    @property
    def last(self) -> int:
        return self._base
