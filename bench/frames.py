"""Frames on the wire: the chat text with its send timestamp, and parsing server frames.

Three dialects carry the same messages (see bench/README.md, "The adapter protocol"):

- ``liveclass``: liveclass's own protocol, JSON text frames or MessagePack binary frames; a
  frame holds one message object or an array of them;
- ``plain``: the tiny JSON protocol of the ``websockets`` baseline (one object per frame);
- ``socketio``: Socket.IO v5 over Engine.IO v4 (WebSocket transport); event payloads are the
  same message objects (``42["chat",{...}]``).

The receive path is cheap: the sender writes ``~T<microseconds>~`` at the start of the chat
text, so a receiver finds every timestamp in a frame with ``bytes.find`` and need not decode
frames that hold only chat messages. Only other frames (welcome, acks, errors, presence) are
decoded.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import msgpack

__all__ = [
    "MARK",
    "Dialect",
    "Wire",
    "chat_text",
    "count_types",
    "decode_messages",
    "last_seq",
    "stamps",
]

MARK = b"~T"
_END = ord("~")


class Dialect(StrEnum):
    LIVECLASS = "liveclass"
    PLAIN = "plain"
    SOCKETIO = "socketio"


def chat_text(sent_us: int, size: int) -> str:
    """Chat text of about ``size`` characters that starts with the send timestamp."""
    head = f"~T{sent_us}~ "
    return head + "x" * max(0, size - len(head))


def stamps(frame: bytes) -> list[int]:
    """Every send timestamp (µs) in ``frame``, in order: one per chat message."""
    out: list[int] = []
    find = frame.find
    i = find(MARK)
    while i >= 0:
        j = find(b"~", i + 2)
        if j < 0:
            break
        digits = frame[i + 2 : j]
        if digits.isdigit():
            out.append(int(digits))
        i = find(MARK, j + 1)
    return out


class Wire:
    """Encoding of client messages and the cheap tests on server frames, for one dialect and
    codec (``json`` or ``msgpack``; MessagePack only with liveclass)."""

    def __init__(self, dialect: Dialect, codec: str = "json") -> None:
        if codec not in ("json", "msgpack"):
            raise ValueError(f"unknown codec {codec!r}")
        if codec == "msgpack" and dialect is not Dialect.LIVECLASS:
            raise ValueError("MessagePack is spoken by liveclass only")
        self.dialect = dialect
        self.codec = codec
        self.binary = codec == "msgpack"
        self.type_key = b"\xa4type" if self.binary else b'"type":'
        self.chat_type = b"\xa4type\xa4chat" if self.binary else b'"type":"chat"'

    @property
    def subprotocols(self) -> list[str] | None:
        if self.dialect is not Dialect.LIVECLASS:
            return None
        return ["liveclass.v1.msgpack" if self.binary else "liveclass.v1.json"]

    def encode(self, message: dict[str, Any]) -> str | bytes:
        """A client message as one frame of this dialect."""
        if self.binary:
            packed: bytes = msgpack.packb(message, use_bin_type=True)
            return packed
        body = json.dumps(message, separators=(",", ":"))
        if self.dialect is Dialect.SOCKETIO:
            return f'42["{message["type"]}",{body}]'
        return body

    def chat(self, text: str) -> str | bytes:
        return self.encode({"type": "chat", "text": text})

    def leave(self) -> str | bytes:
        return self.encode({"type": "leave"})

    def only_chat(self, frame: bytes, chats: int) -> bool:
        """True when ``frame`` holds nothing but ``chats`` chat messages (no decode needed)."""
        if chats == 0:
            return False
        return count_types(frame, self.type_key) == chats == frame.count(self.chat_type)

    def messages(self, frame: bytes) -> list[dict[str, Any]]:
        return decode_messages(frame, self.dialect, self.codec)


def count_types(frame: bytes, type_key: bytes) -> int:
    return frame.count(type_key)


def decode_messages(frame: bytes, dialect: Dialect, codec: str = "json") -> list[dict[str, Any]]:
    """The message objects in one server frame: an object or an array of objects (liveclass),
    one object (plain), or a Socket.IO packet (events become their payload object; the
    Engine.IO ``open``/``ping`` packets and Socket.IO ``connect`` become
    ``{"type": "_eio", "packet": ...}``)."""
    if dialect is Dialect.SOCKETIO:
        return _socketio(frame)
    if codec == "msgpack":
        data: Any = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    else:
        data = json.loads(frame)
    items = data if isinstance(data, list) else [data]
    return [m for m in items if isinstance(m, dict)]


def _socketio(frame: bytes) -> list[dict[str, Any]]:
    if not frame:
        return []
    if frame.startswith(b"42"):
        event = json.loads(frame[2:])
        if isinstance(event, list) and len(event) >= 2 and isinstance(event[1], dict):
            message = dict(event[1])
            message.setdefault("type", str(event[0]))
            return [message]
        if isinstance(event, list) and event:
            return [{"type": str(event[0])}]
        return []
    return [{"type": "_eio", "packet": frame.decode(errors="replace")}]


def last_seq(frame: bytes, binary: bool) -> int | None:
    """The ``seq`` of the last message in ``frame`` that has one, without decoding it."""
    if binary:
        i = frame.rfind(b"\xa3seq")
        if i < 0 or i + 4 >= len(frame):
            return None
        return _msgpack_uint(frame, i + 4)
    i = frame.rfind(b'"seq":')
    if i < 0:
        return None
    j = i + 6
    end = j
    while end < len(frame) and 48 <= frame[end] <= 57:
        end += 1
    return int(frame[j:end]) if end > j else None


def _msgpack_uint(frame: bytes, at: int) -> int | None:
    head = frame[at]
    if head < 0x80:
        return head
    width = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}.get(head)
    if width is None or at + 1 + width > len(frame):
        return None
    return int.from_bytes(frame[at + 1 : at + 1 + width], "big")
