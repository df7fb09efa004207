"""The wire protocol without sockets: decoding, validation, errors, encoding."""

from __future__ import annotations

import json

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signaling.protocol import (
    JSON_SUBPROTOCOL,
    MSGPACK_SUBPROTOCOL,
    Chat,
    Codec,
    Limits,
    ProtocolError,
    Signal,
    decode,
    encode,
    error_message,
)
from tests.conftest import FUZZ_EXAMPLES


def test_negotiation_prefers_the_first_supported_offer() -> None:
    assert Codec.negotiate([]) is Codec.JSON
    assert Codec.negotiate([MSGPACK_SUBPROTOCOL, JSON_SUBPROTOCOL]) is Codec.MSGPACK
    assert Codec.negotiate(["chat", JSON_SUBPROTOCOL]) is Codec.JSON
    assert Codec.negotiate(["chat", "superchat"]) is None


@pytest.mark.parametrize("codec", list(Codec))
def test_chat_round_trip(codec: Codec) -> None:
    frame = encode({"type": "chat", "text": "hi", "rid": "r1", "future": 1}, codec)
    assert isinstance(frame, str if codec is Codec.JSON else bytes)
    message = decode(frame, codec)
    assert message == Chat(type="chat", text="hi", rid="r1")


def test_signal_with_candidate() -> None:
    frame = json.dumps(
        {
            "type": "signal",
            "to": "sfu",
            "kind": "ice",
            "candidate": {
                "candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            },
        }
    )
    message = decode(frame, Codec.JSON)
    assert isinstance(message, Signal)
    assert message.candidate is not None
    assert message.candidate.sdpMLineIndex == 0


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_frame"),
        ("[1, 2]", "invalid_frame"),
        ('"chat"', "invalid_frame"),
        ("{}", "unknown_type"),
        ('{"type": "teleport", "rid": "r9"}', "unknown_type"),
        ('{"type": 7}', "unknown_type"),
        ('{"type": "chat"}', "invalid_message"),
        ('{"type": "chat", "text": 5}', "invalid_message"),
        ('{"type": "signal", "to": "sfu", "kind": "offer"}', "invalid_message"),
        ('{"type": "signal", "to": "sfu", "kind": "ice"}', "invalid_message"),
        ('{"type": "signal", "to": "sfu", "kind": "dance", "sdp": "v=0"}', "invalid_message"),
        ('{"type": "signal", "to": "p_someone", "kind": "restart"}', "invalid_message"),
        ('{"type": "signal", "to": "p_someone", "kind": "unpublish"}', "invalid_message"),
        ('{"type": "signal", "to": "p_someone", "kind": "mute", "muted": true}', "invalid_message"),
        ('{"type": "signal", "to": "sfu", "kind": "mute"}', "invalid_message"),
        ('{"type": "kick", "target": ""}', "invalid_message"),
        ('{"type": "hand", "raised": "yes please"}', "invalid_message"),
    ],
)
def test_bad_frames_are_typed_errors(frame: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(frame, Codec.JSON)
    assert caught.value.code == code


def test_errors_carry_the_rid_when_it_is_readable() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode('{"type": "chat", "rid": "r42"}', Codec.JSON)
    assert caught.value.rid == "r42"
    with pytest.raises(ProtocolError) as caught:
        decode('{"type": "chat", "rid": 42}', Codec.JSON)
    assert caught.value.rid is None


def test_size_limits() -> None:
    limits = Limits(max_frame_bytes=100, max_sdp_bytes=10)
    with pytest.raises(ProtocolError) as caught:
        decode(json.dumps({"type": "chat", "text": "x" * 200}), Codec.JSON, limits)
    assert caught.value.code == "frame_too_large"
    with pytest.raises(ProtocolError) as caught:
        decode(
            json.dumps({"type": "signal", "to": "sfu", "kind": "offer", "sdp": "v=0" * 5}),
            Codec.JSON,
            limits,
        )
    assert caught.value.code == "sdp_too_large"


def test_the_frame_limit_counts_bytes_not_characters() -> None:
    """20,000 emoji are 20,000 characters but 80,000 bytes: over the 64 KiB limit."""
    frame = json.dumps({"type": "chat", "text": "\U0001f600" * 20_000}, ensure_ascii=False)
    assert len(frame) < 64 * 1024 < len(frame.encode())
    with pytest.raises(ProtocolError) as caught:
        decode(frame, Codec.JSON)
    assert caught.value.code == "frame_too_large"


def test_msgpack_frames_must_be_binary_maps() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode('{"type": "ping"}', Codec.MSGPACK)
    assert caught.value.code == "invalid_frame"
    with pytest.raises(ProtocolError) as caught:
        decode(msgpack.packb([1, 2, 3]), Codec.MSGPACK)
    assert caught.value.code == "invalid_frame"
    with pytest.raises(ProtocolError) as caught:
        decode(b"\xc1\xc1", Codec.MSGPACK)
    assert caught.value.code == "invalid_frame"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 100_000, "invalid_frame"),
        ('{"type": "chat", "text": ' + '{"a":' * 100 + "1" + "}" * 100 + "}", "invalid_frame"),
        ('{"type": "ping", "ts": 1' + "0" * 5000 + "}", "invalid_frame"),
        ('{"type": "ping", "ts": 0.' + "1" * 5000 + "}", "invalid_frame"),
        ('{"type": "ping", "ts": 1e999}', "invalid_frame"),
        ('{"type": "ping", "ts": NaN}', "invalid_frame"),
        ('{"type": "chat", "text": "a\\ud800b"}', "invalid_text"),
        ('{"type": "chat", "text": "a\\u0000b"}', "invalid_text"),
        ('{"type": "chat", "text": "hi", "\\udfff": 1}', "invalid_text"),
        # The rid is not echoed back when it cannot be encoded.
        ('{"type": "chat", "text": "hi", "rid": "r\\ud800"}', "invalid_text"),
    ],
)
def test_parser_bombs_and_unencodable_text_are_refused(frame: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(frame, Codec.JSON, Limits(max_frame_bytes=1 << 20))
    assert caught.value.code == code
    assert caught.value.rid is None
    text = encode(error_message(caught.value.code, caught.value.message), Codec.JSON)
    assert isinstance(text, str)
    text.encode()


@pytest.mark.parametrize(
    "frame",
    [
        b"\x91" * 100_000,  # arrays nested 100,000 deep
        # a chat whose text is arrays nested 100 deep (over the 64 levels allowed)
        b"\x82\xa4type\xa4chat\xa4text" + b"\x91" * 100 + b"\x01",
        msgpack.packb({"type": "ping", "ts": float("nan")}),
        msgpack.packb({"type": "ping", "ts": float("inf")}),
        msgpack.packb({"type": "chat", "text": "a\ud800b"}, unicode_errors="surrogatepass"),
        msgpack.packb({"type": "chat", "text": "a\x00b"}),
        msgpack.packb(
            {"type": "chat", "text": "hi", "rid": "r\udfff"}, unicode_errors="surrogatepass"
        ),
    ],
)
def test_msgpack_bombs_and_unencodable_text_are_refused(frame: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(frame, Codec.MSGPACK, Limits(max_frame_bytes=1 << 20))
    assert caught.value.code in ("invalid_frame", "invalid_text")
    assert caught.value.rid is None


@pytest.mark.parametrize("codec", list(Codec))
def test_text_stored_before_the_edge_checked_it_still_encodes(codec: Codec) -> None:
    """A lone surrogate from an old row goes out as U+FFFD; a frame is always sendable."""
    frame = encode({"type": "chat", "text": "a\ud800b", "from": {"\udfff": "\ud83d\ude00"}}, codec)
    if isinstance(frame, str):
        frame.encode()
        decoded = json.loads(frame)
    else:
        decoded = msgpack.unpackb(frame)
    assert decoded["text"] == "a\ufffdb"
    assert decoded["from"] == {"\ufffd": "\U0001f600"}


def test_json_frames_never_carry_nan() -> None:
    """Browsers' JSON.parse refuses NaN and Infinity: they go out as null."""
    frame = encode({"type": "pong", "ts": float("nan"), "serverTs": float("inf")}, Codec.JSON)
    assert isinstance(frame, str)

    def refuse(literal: str) -> None:
        raise ValueError(literal)

    assert json.loads(frame, parse_constant=refuse) == {
        "type": "pong",
        "ts": None,
        "serverTs": None,
    }


CLIENT_TYPES = ["chat", "signal", "hand", "mute", "kick", "allow", "end", "ping", "leave"]
# Unicode edge cases: lone surrogates, NUL and other controls, bidi overrides, BOM, emoji.
HOSTILE_TEXT = st.sampled_from(
    ["\ud800", "a\udfffb", "\x00", "\u202eevil\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd", "\ufeff"]
) | st.text(st.characters(categories=["Cs", "Cc", "Cf", "So"]), max_size=6)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | HOSTILE_TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | HOSTILE_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(CLIENT_TYPES) | st.text(max_size=8)},
    optional={
        "text": json_values,
        "to": json_values,
        "kind": json_values,
        "sdp": json_values,
        "candidate": json_values,
        "target": json_values,
        "rid": json_values,
        "raised": json_values,
        "publish": json_values,
        "ts": json_values,
    },
)
FUZZ_COUNT = {"frames": 0}


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        messages.map(lambda m: json.dumps(m).encode()),
        messages.map(lambda m: msgpack.packb(m, unicode_errors="surrogatepass")),
        st.sampled_from(["[" * 100_000, '{"type":"ping","ts":1' + "0" * 5000 + "}"]).map(
            str.encode
        ),
    ),
    codec=st.sampled_from(list(Codec)),
)
def test_random_frames_never_crash_the_decoder(data: bytes, codec: Codec) -> None:
    FUZZ_COUNT["frames"] += 1
    frame: bytes | str = data
    if codec is Codec.JSON:
        try:
            frame = data.decode()
        except UnicodeDecodeError:
            frame = data
    assert outcome(frame, codec) in ERROR_CODES | {f"ok:{t}" for t in CLIENT_TYPES}


ERROR_CODES = {
    "frame_too_large",
    "invalid_frame",
    "invalid_text",
    "unknown_type",
    "invalid_message",
    "sdp_too_large",
}


def outcome(frame: bytes | str, codec: Codec) -> str:
    """``ok:<type>`` for a decoded message, else the ProtocolError code; anything else
    raised (a crash) propagates and fails the test."""
    try:
        return f"ok:{decode(frame, codec).type}"
    except ProtocolError as error:
        return error.code


def test_fuzz_ran() -> None:
    """Reported in the closing note: how many random frames the decoder took."""
    print(f"decoder fuzz: {FUZZ_COUNT['frames']} frames")
