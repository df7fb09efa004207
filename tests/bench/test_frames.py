"""Parsing what servers send: one object or an array of them, three dialects, the cheap path."""

from __future__ import annotations

import json

import msgpack
import pytest

from bench.frames import Dialect, Wire, chat_text, decode_messages, last_seq, stamps


def chat(seq: int, sent: int) -> dict[str, object]:
    return {
        "type": "chat",
        "id": f"m{seq}",
        "seq": seq,
        "from": {"id": "p_1", "userId": "u1", "name": "Ann", "role": "guest"},
        "text": chat_text(sent, 48),
        "ts": "2025-11-20T14:06:00.000Z",
    }


def js(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def test_chat_text_starts_with_the_stamp_and_has_the_size() -> None:
    text = chat_text(123456789, 48)
    assert text.startswith("~T123456789~ ")
    assert len(text) == 48
    assert stamps(text.encode()) == [123456789]


def test_stamps_in_an_object_and_in_an_array() -> None:
    assert stamps(js(chat(1, 1000))) == [1000]
    assert stamps(js([chat(1, 1000), chat(2, 2000), {"type": "count", "count": 3}])) == [
        1000,
        2000,
    ]
    assert stamps(b'{"type":"presence","joined":[]}') == []
    assert stamps(b'{"text":"~Tnot-a-number~ ~T55~"}') == [55]
    assert stamps(b'{"text":"~T12') == []


def test_decode_accepts_an_object_or_an_array() -> None:
    one = decode_messages(js({"type": "welcome", "seq": 3}), Dialect.LIVECLASS)
    assert one == [{"type": "welcome", "seq": 3}]
    many = decode_messages(js([{"type": "ack"}, {"type": "chat", "seq": 4}]), Dialect.LIVECLASS)
    assert [m["type"] for m in many] == ["ack", "chat"]
    packed = msgpack.packb([{"type": "ack"}, {"type": "error", "code": "x"}])
    assert [m["type"] for m in decode_messages(packed, Dialect.LIVECLASS, "msgpack")] == [
        "ack",
        "error",
    ]
    assert decode_messages(js({"type": "chat"}), Dialect.PLAIN) == [{"type": "chat"}]


@pytest.mark.parametrize("codec", ["json", "msgpack"])
def test_only_chat_frames_skip_decoding(codec: str) -> None:
    wire = Wire(Dialect.LIVECLASS, codec)

    def frame(value: object) -> bytes:
        if codec == "json":
            return js(value)
        packed: bytes = msgpack.packb(value, use_bin_type=True)
        return packed

    pure = frame([chat(1, 10), chat(2, 20)])
    assert wire.only_chat(pure, len(stamps(pure)))
    single = frame(chat(3, 30))
    assert wire.only_chat(single, len(stamps(single)))
    mixed = frame([chat(4, 40), {"type": "ack", "rid": "1", "seq": 4}])
    assert not wire.only_chat(mixed, len(stamps(mixed)))
    welcome = frame({"type": "welcome", "seq": 0})
    assert not wire.only_chat(welcome, len(stamps(welcome)))


def test_last_seq_without_decoding() -> None:
    assert last_seq(js([chat(7, 1), chat(8, 2)]), binary=False) == 8
    assert last_seq(js({"type": "count"}), binary=False) is None
    for seq in (5, 200, 70_000, 5_000_000_000):
        packed = msgpack.packb([chat(1, 1), chat(seq, 2)], use_bin_type=True)
        assert last_seq(packed, binary=True) == seq


def test_socketio_packets() -> None:
    wire = Wire(Dialect.SOCKETIO)
    event = b'42["chat",' + js(chat(9, 99)) + b"]"
    assert stamps(event) == [99]
    assert wire.only_chat(event, 1)
    assert wire.messages(event)[0]["seq"] == 9
    assert wire.messages(b'42["welcome",{"participant":{"id":"u"},"seq":0}]')[0]["type"] == (
        "welcome"
    )
    assert wire.messages(b"2") == [{"type": "_eio", "packet": "2"}]
    assert wire.messages(b'0{"sid":"x"}')[0]["packet"].startswith("0")
    assert wire.chat("hi") == '42["chat",{"type":"chat","text":"hi"}]'
    assert wire.leave() == '42["leave",{"type":"leave"}]'
    assert wire.subprotocols is None


def test_wire_encoding_per_dialect() -> None:
    assert Wire(Dialect.LIVECLASS).chat("hi") == '{"type":"chat","text":"hi"}'
    assert Wire(Dialect.LIVECLASS).subprotocols == ["liveclass.v1.json"]
    binary = Wire(Dialect.LIVECLASS, "msgpack")
    assert binary.subprotocols == ["liveclass.v1.msgpack"]
    assert msgpack.unpackb(binary.chat("hi")) == {"type": "chat", "text": "hi"}
    with pytest.raises(ValueError, match="MessagePack"):
        Wire(Dialect.PLAIN, "msgpack")
