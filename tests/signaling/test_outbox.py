"""The per-connection outbox: bounds (slow-consumer policy) and write coalescing."""

from __future__ import annotations

import json

import msgpack

from signaling.outbox import Outbox, join_frames
from signaling.protocol import Codec, encode


def test_frames_are_joined_into_one_array_frame_json() -> None:
    box = Outbox(Codec.JSON)
    for i in range(3):
        assert box.push(encode({"type": "count", "count": i}, Codec.JSON))
    frame = box.take()
    assert isinstance(frame, str)
    assert json.loads(frame) == [{"type": "count", "count": i} for i in range(3)]
    assert box.take() is None
    assert box.pending_bytes == 0


def test_frames_are_joined_into_one_array_frame_msgpack() -> None:
    for n in (2, 15, 16, 300):
        frames = [encode({"n": i}, Codec.MSGPACK) for i in range(n)]
        joined = join_frames(frames, Codec.MSGPACK)
        assert msgpack.unpackb(joined) == [{"n": i} for i in range(n)]


def test_a_single_frame_is_sent_as_it_is() -> None:
    box = Outbox(Codec.JSON)
    box.push('{"type":"pong"}')
    assert box.take() == '{"type":"pong"}'


def test_take_respects_the_byte_limit_per_write() -> None:
    box = Outbox(Codec.JSON)
    for _ in range(10):
        box.push('"' + "x" * 98 + '"')
    first = box.take(limit_bytes=350)
    assert isinstance(first, str)
    assert len(json.loads(first)) == 3
    assert len(box) == 7


def test_full_outbox_refuses_by_count_and_by_bytes() -> None:
    box = Outbox(Codec.JSON, max_frames=2, max_bytes=1000)
    assert box.push("a")
    assert box.push("b")
    assert not box.push("c")
    box = Outbox(Codec.JSON, max_frames=100, max_bytes=10)
    assert box.push("12345")
    assert not box.push("123456")
    assert box.push("12345")


def test_the_byte_limit_counts_bytes_on_the_wire_not_characters() -> None:
    """An emoji is one character and four bytes of UTF-8: 1,024 of them are 4 KiB queued."""
    emoji = json.dumps("\U0001f600" * 1024, ensure_ascii=False)
    box = Outbox(Codec.JSON, max_frames=100, max_bytes=3000)  # 1,026 characters would fit
    assert not box.push(emoji)
    box = Outbox(Codec.JSON, max_frames=100, max_bytes=64 * 1024)
    assert box.push(emoji)
    assert box.pending_bytes == len(emoji.encode()) == 4 * 1024 + 2
    assert box.push(emoji)
    # take() batches by bytes too: two 4 KiB frames do not fit a 5 KiB write.
    first = box.take(limit_bytes=5 * 1024)
    assert first == emoji
    assert box.pending_bytes == 4 * 1024 + 2
