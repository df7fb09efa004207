"""RTP-level forwarding without a network: keyframe starts, the per-subscriber rewriting
(sequence numbers, timestamps, VP8 picture ids) and a subscriber track forwarding packets
to an outlet (a queue standing in for the sender's socket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from media.fanout import TrackFanout
from media.forwarding import ForwardedTrack
from media.rtp_forwarding import RtpRewriter, is_keyframe_start
from media.sdp import CodecSpec

VP8 = CodecSpec("video", "video/vp8", 90000, None, ())


def vp8(*, start: bool, key: bool = False, picture_id: int = 0x1234) -> bytes:
    """A VP8 payload descriptor with a 15-bit picture id, then a payload header."""
    descriptor = bytes([0x90 if start else 0x80, 0x80, 0x80 | (picture_id >> 8), picture_id & 0xFF])
    return descriptor + bytes([0x00 if key else 0x01, 0, 0]) + b"\x9d\x01\x2a"


def test_keyframe_starts() -> None:
    assert is_keyframe_start("video/vp8", vp8(start=True, key=True))
    assert not is_keyframe_start("video/vp8", vp8(start=True))
    assert not is_keyframe_start("video/vp8", vp8(start=False, key=True))
    assert is_keyframe_start("video/vp8", b"\x10\x00\x00\x00")  # no extension
    assert not is_keyframe_start("video/vp8", b"\x10")
    assert is_keyframe_start("video/h264", b"\x65\x88")  # IDR
    assert is_keyframe_start("video/h264", b"\x18\x00\x02\x67\x42\x00\x02\x68\xce")  # STAP-A SPS
    assert is_keyframe_start("video/h264", b"\x7c\x85\x88")  # FU-A start of an IDR
    assert not is_keyframe_start("video/h264", b"\x7c\x05\x88")  # FU-A, not the start
    assert not is_keyframe_start("video/h264", b"\x41\x9a")
    assert is_keyframe_start("audio/opus", b"\xfc")


def test_numbering_continues_across_holds_and_sources() -> None:
    rw = RtpRewriter("video", vp8=False)
    rw.last_seq, rw.last_ts = 65534, 1000
    out = [rw.map(seq, ts, b"x") for seq, ts in ((500, 90000), (501, 90000), (502, 93000))]
    assert [(s, t) for s, t, _ in filter(None, out)] == [(65535, 4000), (0, 4000), (1, 7000)]
    assert rw.map(499, 87000, b"x") is None  # from before forwarding started
    # a hold: packets 503..509 dropped; numbering continues, the source's pace is kept
    rw.restart()
    assert rw.map(510, 111000, b"x") == (2, 25000, b"x")
    # a new source: timestamps start one frame (3000) after the last one sent
    rw.new_source()
    assert rw.map(7, 50, b"x") == (3, 28000, b"x")
    assert rw.map(9, 3050, b"x") == (5, 31000, b"x")  # a gap upstream stays a gap
    assert rw.map(8, 3050, b"x") == (4, 31000, b"x")  # its late arrival fills it


def test_vp8_picture_ids_continue_on_a_new_source() -> None:
    rw = RtpRewriter("video", vp8=True)
    first = vp8(start=True, key=True, picture_id=100)
    assert rw.map(1, 0, first) == (rw.last_seq, rw.last_ts, first)  # untouched: no copy
    rw.new_source()
    mapped = rw.map(40, 0, vp8(start=True, key=True, picture_id=0x7FFF))
    assert mapped is not None
    assert ((mapped[2][2] & 0x7F) << 8) | mapped[2][3] == 101
    mapped = rw.map(41, 3000, vp8(start=True, picture_id=0))  # wraps with the source
    assert mapped is not None
    assert ((mapped[2][2] & 0x7F) << 8) | mapped[2][3] == 102


class Outlet:
    """The sender's socket: what was sent, in order."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[tuple[int, int, int, bytes]] = asyncio.Queue()

    def send(self, seq: int, ts: int, marker: int, payload: bytes, ntp: int) -> None:
        self.sent.put_nowait((seq, ts, marker, payload))

    def drain(self) -> list[tuple[int, int, int, bytes]]:
        out = []
        while not self.sent.empty():
            out.append(self.sent.get_nowait())
        return out


@pytest.fixture
async def fanout() -> AsyncIterator[TrackFanout]:
    requests = asyncio.Queue[None]()

    async def pli() -> None:
        requests.put_nowait(None)

    f = TrackFanout(
        track_id="t:video:1",
        publisher_id="t",
        codec=VP8,
        send_keyframe_request=pli,
        keyframe_interval=0,
    )
    yield f
    await f.close()


def packet(seq: int, ts: int, payload: bytes, marker: int = 0) -> RtpPacket:
    p = RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, marker=marker)
    p.payload = payload
    return p


async def test_a_subscriber_stream_is_held_until_a_keyframe_then_forwarded(
    fanout: TrackFanout,
) -> None:
    outlet = Outlet()
    track = ForwardedTrack(
        "video", clock_rate=90000, capacity=1, outlet=outlet, mime_type=VP8.mime_type
    )
    track.switch(fanout)
    assert track in fanout.rtp_sinks
    assert track not in fanout.sinks
    fanout.push_rtp(packet(1, 0, vp8(start=True, key=True)), "video/vp8")
    assert outlet.drain() == []  # the connection is not up: the sender has not started
    reader = asyncio.ensure_future(track.recv())
    await track.until_pulling()
    asked = fanout.keyframe_requests
    fanout.push_rtp(packet(2, 3000, vp8(start=True)), "video/vp8")
    fanout.push_rtp(packet(3, 3000, vp8(start=False), marker=1), "video/vp8")
    assert outlet.drain() == []
    assert track.holding
    assert fanout.keyframe_requests > asked  # asked again for each packet dropped
    key = vp8(start=True, key=True)
    fanout.push_rtp(packet(4, 6000, key), "video/vp8")
    fanout.push_rtp(packet(5, 6000, vp8(start=False), marker=1), "video/vp8")
    fanout.push_rtp(packet(6, 9000, vp8(start=True)), "audio/opus")  # another codec: ignored
    sent = outlet.drain()
    assert [(m, p) for _, _, m, p in sent] == [(0, key), (1, vp8(start=False))]
    assert (sent[1][0] - sent[0][0]) & 0xFFFF == 1
    assert sent[0][1] == sent[1][1]
    assert track.forwarded == 2
    assert not reader.done()  # an outlet's track never yields: the sender stays idle
    # renegotiated: held again, and the numbering goes on without a gap
    track.restart()
    fanout.push_rtp(packet(6, 9000, vp8(start=True)), "video/vp8")
    fanout.push_rtp(packet(7, 12000, vp8(start=True, key=True)), "video/vp8")
    [(seq, _, _, _)] = outlet.drain()
    assert seq == (sent[1][0] + 1) & 0xFFFF
    track.stop()
    with pytest.raises(MediaStreamError):
        await reader
    assert track not in fanout.rtp_sinks
