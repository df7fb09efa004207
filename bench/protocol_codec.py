"""The protocol's codec on the hub's hot path: pydantic (what liveclass uses) against msgspec.

    .venv/bin/python -m bench.protocol_codec [--repeat 5] [--number 20000]

Per operation, best of ``--repeat`` runs of ``--number`` calls, in microseconds:

- *decode*: a client ``chat`` frame and an ICE ``signal`` frame, JSON and MessagePack, through
  ``signaling.protocol.decode`` (the untrusted-input checks, then the pydantic union), against
  msgspec decoding straight into a tagged ``Struct`` union (no separate checks);
- *build*: a chat delivery as the hub builds it before this change (a dict literal) and with
  the typed model (``signaling.messages.chat_message``: the model, then its wire dict);
- *encode*: that delivery into one frame (``signaling.protocol.encode``), against msgspec;
- *bus*: that delivery as a room event on the bus (rooms/bus_events.py: the typed
  ``RoomMessage`` to MessagePack and back), against the untyped map the bus carried before
  (every field in the map, a dict for ``data``, decoded into one catch-all dataclass).

The hub builds a room message once and encodes it once per codec, whatever the room's size, so
*build* and *encode* are paid per room message, not per recipient; *bus* is paid once per
room message by the publisher and once by each node in the room. msgspec is measured only
when it is installed (``pip install msgspec``; liveclass does not depend on it). The figures
and the choice are in docs/codec.md.
"""

# No `from __future__ import annotations`: msgspec resolves the local Structs' annotations.
import argparse
import contextlib
import dataclasses
import timeit
from collections.abc import Callable
from datetime import UTC, datetime

import msgpack

from rooms.bus_codec import decode as decode_event
from rooms.bus_codec import encode as encode_event
from rooms.bus_events import RoomMessage
from signaling.messages import chat_message, iso
from signaling.protocol import Codec, decode, encode

SENDER = {"id": "p_1a2b3c", "userId": "u-42", "name": "Ann Example", "role": "guest"}
NOW = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
CHAT = {"type": "chat", "rid": "r17", "text": "Could you go over the second proof again?"}
ICE = {
    "type": "signal",
    "rid": "r18",
    "to": "sfu",
    "kind": "ice",
    "target": "publisher",
    "candidate": {
        "candidate": "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx "
        "raddr 10.0.0.5 rport 46154 generation 0 ufrag sK1f network-cost 999",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    },
}


def _old_chat() -> dict[str, object]:
    """The chat delivery as signaling/messages.py built it before the typed models."""
    return {
        "type": "chat",
        "id": "m_0123456789",
        "seq": 4242,
        "from": SENDER,
        "text": CHAT["text"],
        "ts": iso(NOW),
    }


def _new_chat() -> dict[str, object]:
    return chat_message(id="m_0123456789", seq=4242, sender=SENDER, text=str(CHAT["text"]), ts=NOW)


@dataclasses.dataclass(slots=True)
class _UntypedEvent:
    """The bus event before rooms/bus_events.py: one class for every kind, ``data`` a dict."""

    kind: str
    session_id: str
    origin: str = ""
    message: dict[str, object] | None = None
    to: str | None = None
    audience: str = "all"
    exclude: str | None = None
    data: dict[str, object] = dataclasses.field(default_factory=dict)


def _untyped_encode(e: _UntypedEvent) -> bytes:
    packed: bytes = msgpack.packb(
        {
            "k": e.kind,
            "s": e.session_id,
            "o": e.origin,
            "m": e.message,
            "t": e.to,
            "a": e.audience,
            "x": e.exclude,
            "d": e.data,
        },
        use_bin_type=True,
    )
    return packed


def _untyped_decode(raw: bytes) -> _UntypedEvent:
    d = msgpack.unpackb(raw, raw=False)
    return _UntypedEvent(
        kind=d["k"],
        session_id=d["s"],
        origin=d.get("o", ""),
        message=d.get("m"),
        to=d.get("t"),
        audience=d.get("a", "all"),
        exclude=d.get("x"),
        data=d.get("d") or {},
    )


def _bus_cases(delivery: dict[str, object]) -> dict[str, Callable[[], object]]:
    typed = RoomMessage("s_1", delivery, "node-a", sent_at=1765033200.25)
    untyped = _UntypedEvent("msg", "s_1", "node-a", message=delivery, data={"ts": 1765033200.25})
    typed_raw, untyped_raw = encode_event(typed), _untyped_encode(untyped)
    return {
        "bus encode room message (untyped, before)": lambda: _untyped_encode(untyped),
        "bus encode room message (typed, now)": lambda: encode_event(typed),
        "bus decode room message (untyped, before)": lambda: _untyped_decode(untyped_raw),
        "bus decode room message (typed, now)": lambda: decode_event(typed_raw),
    }


def cases() -> dict[str, Callable[[], object]]:
    """Every measured operation by name."""
    chat_json, ice_json = encode(CHAT, Codec.JSON), encode(ICE, Codec.JSON)
    chat_mp, ice_mp = msgpack.packb(CHAT), msgpack.packb(ICE)
    delivery = _new_chat()
    out: dict[str, Callable[[], object]] = {
        "decode chat json (pydantic)": lambda: decode(chat_json, Codec.JSON),
        "decode chat msgpack (pydantic)": lambda: decode(chat_mp, Codec.MSGPACK),
        "decode ice json (pydantic)": lambda: decode(ice_json, Codec.JSON),
        "decode ice msgpack (pydantic)": lambda: decode(ice_mp, Codec.MSGPACK),
        "build chat delivery (dict, before)": _old_chat,
        "build chat delivery (model, now)": _new_chat,
        "encode chat delivery json": lambda: encode(delivery, Codec.JSON),
        "encode chat delivery msgpack": lambda: encode(delivery, Codec.MSGPACK),
        **_bus_cases(delivery),
    }
    with contextlib.suppress(ImportError):
        out.update(_msgspec_cases(chat_json, ice_json, chat_mp, ice_mp, delivery))
    return out


def _msgspec_cases(
    chat_json: str | bytes,
    ice_json: str | bytes,
    chat_mp: bytes,
    ice_mp: bytes,
    delivery: dict[str, object],
) -> dict[str, Callable[[], object]]:
    import msgspec  # optional, only for this comparison

    class Chat(msgspec.Struct, tag_field="type", tag="chat"):
        text: str
        rid: str | None = None

    class Candidate(msgspec.Struct):
        candidate: str
        sdpMid: str | None = None
        sdpMLineIndex: int | None = None

    class Signal(msgspec.Struct, tag_field="type", tag="signal"):
        to: str
        kind: str
        rid: str | None = None
        candidate: Candidate | None = None
        target: str | None = None
        sdp: str | None = None

    class From(msgspec.Struct):
        id: str
        userId: str
        name: str
        role: str

    class ChatDelivery(msgspec.Struct, tag_field="type", tag="chat"):
        id: str
        seq: int
        from_: From = msgspec.field(name="from")
        text: str = ""
        ts: str = ""

    union = Chat | Signal
    jdec, mdec = msgspec.json.Decoder(union), msgspec.msgpack.Decoder(union)
    jenc, menc = msgspec.json.Encoder(), msgspec.msgpack.Encoder()
    struct = ChatDelivery(
        id="m_0123456789", seq=4242, from_=From(**SENDER), text=str(CHAT["text"]), ts=iso(NOW)
    )
    chat_bytes = chat_json.encode() if isinstance(chat_json, str) else chat_json
    ice_bytes = ice_json.encode() if isinstance(ice_json, str) else ice_json
    del delivery
    return {
        "decode chat json (msgspec)": lambda: jdec.decode(chat_bytes),
        "decode chat msgpack (msgspec)": lambda: mdec.decode(chat_mp),
        "decode ice json (msgspec)": lambda: jdec.decode(ice_bytes),
        "decode ice msgpack (msgspec)": lambda: mdec.decode(ice_mp),
        "build chat delivery (msgspec Struct)": lambda: ChatDelivery(
            id="m_0123456789", seq=4242, from_=From(**SENDER), text=str(CHAT["text"]), ts=iso(NOW)
        ),
        "encode chat delivery json (msgspec)": lambda: jenc.encode(struct),
        "encode chat delivery msgpack (msgspec)": lambda: menc.encode(struct),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--number", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{'operation':<42} {'µs/op':>8}")
    for name, call in cases().items():
        best = min(timeit.repeat(call, number=args.number, repeat=args.repeat)) / args.number
        print(f"{name:<42} {best * 1e6:8.2f}")


if __name__ == "__main__":
    main()
