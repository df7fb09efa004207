"""The bus's typed events (rooms/bus_events.py): every kind survives the wire, the wire is
the MessagePack map older nodes speak, and what a node cannot use is skipped, not raised."""

from __future__ import annotations

from typing import get_args

import msgpack
import pytest

from rooms.bus_codec import decode, encode
from rooms.bus_events import (
    BUS_KINDS,
    Attach,
    BusEvent,
    CloseParticipant,
    Direct,
    GrantChanged,
    MediaSignal,
    PresenceChanged,
    RecordCommand,
    Relay,
    RoomEndedEvent,
    RoomMessage,
    WaitingDecision,
)

#: One event of every class of the union, every field set.
EXAMPLES: list[BusEvent] = [
    RoomMessage("s1", {"type": "chat", "seq": 3}, "n1", "hosts", "p9", 12.5),
    RoomMessage("s1", {"type": "question", "id": "q1"}, "n1", "hosts+u7"),  # a private question
    PresenceChanged("s1", "n1", [{"id": "p1", "name": "Ann"}], [{"id": "p2"}], ["p2"]),
    Direct("s1", {"type": "signal", "from": "sfu"}, "p1", "w1"),
    CloseParticipant("s1", "p1", 4003, "kicked", {"type": "kicked", "reason": "x"}, "n1"),
    GrantChanged("s1", True, "p1", "n1"),
    RoomEndedEvent("s1", "the host ended the class", "n1"),
    MediaSignal(
        "s1",
        "p1",
        "offer",
        "n1",
        user="u1",
        role="guest",
        publish=True,
        signal={"sdp": "v=0", "offerId": "o1", "layers": {"0": "low"}},
    ),
    Attach("s1", "p1", "w-origin", True, "w-origin"),
    Relay("s1", "w2", "answer", "v=0", "o1", True, "w2"),
    RecordCommand("s1", "start", "rec1", "rec/1.webm", "n1"),
    WaitingDecision("s1", "w1", "admit", "n1"),
]


def test_every_event_class_has_an_example() -> None:
    classes = {type(e) for e in EXAMPLES}
    assert classes == set(get_args(BusEvent))


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_an_event_survives_the_wire(event: BusEvent) -> None:
    assert decode(encode(event)) == event


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_the_wire_is_the_map_every_node_speaks(event: BusEvent) -> None:
    raw = msgpack.unpackb(encode(event), raw=False)
    assert raw["k"] in BUS_KINDS
    assert raw["s"] == "s1"
    assert set(raw) <= {"k", "s", "o", "m", "t", "a", "x", "d"}


def test_an_older_nodes_maps_decode() -> None:
    """The maps the previous BusEvent encoder wrote (every field present, ``d`` untyped)."""

    def old(kind: str, **fields: object) -> bytes:
        base = {"k": kind, "s": "s1", "o": "n1", "m": None, "t": None, "a": "all", "x": None}
        return bytes(msgpack.packb({**base, "d": {}, **fields}, use_bin_type=True))

    assert decode(old("msg", m={"type": "chat"}, d={"ts": 1.0})) == RoomMessage(
        "s1", {"type": "chat"}, "n1", sent_at=1.0
    )
    assert decode(old("grant", t="p1", d={"publish": True})) == GrantChanged("s1", True, "p1", "n1")
    sfu = decode(old("sfu", d={"participant": "p1", "kind": "ice", "candidate": {"c": 1}}))
    assert sfu == MediaSignal("s1", "p1", "ice", "n1", signal={"candidate": {"c": 1}})
    assert decode(old("relay", d={"kind": "request"})) == Relay("s1", "n1", "request", origin="n1")


def test_what_a_node_cannot_use_is_skipped() -> None:
    def raw(kind: str, **fields: object) -> bytes:
        return bytes(msgpack.packb({"k": kind, "s": "s1", **fields}, use_bin_type=True))

    assert decode(raw("from-a-newer-node")) is None
    assert decode(raw("msg")) is None  # a room message without a message
    assert decode(raw("direct", m="not a map")) is None
    assert decode(raw("record", d={"action": "pause"})) is None
    with pytest.raises((ValueError, KeyError, TypeError)):
        decode(msgpack.packb([1, 2]))


def test_every_kind_is_encoded_by_one_class() -> None:
    kinds = {type(e): msgpack.unpackb(encode(e), raw=False)["k"] for e in EXAMPLES}
    assert sorted(kinds.values()) == sorted(BUS_KINDS)
