"""Fan-out and per-subscriber queues, without any network: keyframe holds, overflow policy,
timestamp continuity across sources, throttled keyframe requests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc.mediastreams import MediaStreamError
from av.packet import Packet

from media.bitstream import is_keyframe
from media.fanout import MediaFrame, TrackFanout
from media.forwarding import ForwardedTrack
from media.keyframes import KeyframeRequester
from media.sdp import CodecSpec

VP8 = CodecSpec("video", "video/vp8", 90000, None, ())
OPUS = CodecSpec("audio", "audio/opus", 48000, 2, ())
KEY = b"\x00\x00\x00\x9d\x01\x2a" + b"\x00" * 10
DELTA = b"\x01\x00\x00" + b"\x00" * 13


class Publisher:
    """A fan-out whose keyframe requests are counted."""

    def __init__(self, codec: CodecSpec = VP8, interval: float = 0.0) -> None:
        self.plis = 0
        self.pli_sent = asyncio.Event()
        self.fanout = TrackFanout(
            track_id="teacher:video:1",
            publisher_id="teacher",
            codec=codec,
            send_keyframe_request=self._pli,
            keyframe_interval=interval,
        )

    async def _pli(self) -> None:
        self.plis += 1
        self.pli_sent.set()

    async def wait_pli(self) -> None:
        await asyncio.wait_for(self.pli_sent.wait(), 2)
        self.pli_sent.clear()


@pytest.fixture
async def pub() -> AsyncIterator[Publisher]:
    p = Publisher()
    yield p
    await p.fanout.close()


def frame(ts: int, key: bool) -> MediaFrame:
    return MediaFrame(KEY if key else DELTA, ts, key)


async def pulling(track: ForwardedTrack) -> asyncio.Task[Packet[Any]]:
    """Start the sender's first recv() (as RTCRtpSender does once connected); returns once
    it reads."""
    task = asyncio.ensure_future(track.recv())
    async with asyncio.timeout(30):
        await track.until_pulling()
    assert track.pulling
    return task


def test_keyframe_detection() -> None:
    assert is_keyframe("video/VP8", KEY)
    assert not is_keyframe("video/VP8", DELTA)
    assert not is_keyframe("video/VP8", KEY[:5])
    idr = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x68\xce" + b"\x00\x00\x01\x65\x88"
    assert is_keyframe("video/H264", idr)
    assert not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41\x9a")
    assert is_keyframe("audio/opus", b"\xfc")
    assert not is_keyframe("video/AV1", KEY)


async def test_held_until_keyframe_and_asks_for_one_when_pulled(pub: Publisher) -> None:
    track = ForwardedTrack("video", clock_rate=90000, capacity=10)
    track.switch(pub.fanout)
    pub.fanout.push(frame(0, True))  # not pulling yet: the connection is not up
    assert pub.plis == 0
    first = await pulling(track)
    await pub.wait_pli()
    pub.fanout.push(frame(3000, False))
    pub.fanout.push(frame(6000, False))
    assert not first.done()
    assert track.holding
    assert track.dropped == 2
    pub.fanout.push(frame(9000, True))
    pub.fanout.push(frame(12000, False))
    packet = await asyncio.wait_for(first, 1)
    assert bytes(packet) == KEY
    assert packet.pts == 0  # output timestamps start at 0
    second = await asyncio.wait_for(track.recv(), 1)
    assert (bytes(second), second.pts) == (DELTA, 3000)
    assert track.forwarded == 2
    track.stop()


async def test_a_held_track_asks_again_until_its_keyframe_comes(pub: Publisher) -> None:
    """A keyframe request may go unanswered: its RTCP packet lost, or ignored by the publisher
    (Chrome drops a request that comes within 300 ms of the previous one, and its VP8 encoder
    makes no keyframe unasked). A held track asks again for every frame it has to drop, so it
    is never left without video; the publisher's requester throttles and merges the asks."""
    track = ForwardedTrack("video", clock_rate=90000, capacity=10)
    track.switch(pub.fanout)
    reader = await pulling(track)
    await pub.wait_pli()  # asked when the sender started pulling: say it went unanswered
    asked = pub.fanout.keyframe_requests
    pub.fanout.push(frame(3000, False))
    assert pub.fanout.keyframe_requests == asked + 1
    await pub.wait_pli()
    pub.fanout.push(frame(6000, False))
    await pub.wait_pli()
    assert (track.dropped, track.holding) == (2, True)
    pub.fanout.push(frame(9000, True))
    packet = await asyncio.wait_for(reader, 1)
    assert bytes(packet) == KEY
    asked = pub.fanout.keyframe_requests
    pub.fanout.push(frame(12000, False))  # forwarded, not held: nothing asked
    assert pub.fanout.keyframe_requests == asked
    assert track.forwarded == 1
    track.stop()


async def test_video_overflow_drops_to_the_next_keyframe(pub: Publisher) -> None:
    track = ForwardedTrack("video", clock_rate=90000, capacity=3)
    track.switch(pub.fanout)
    reader = await pulling(track)
    await pub.wait_pli()
    pub.fanout.push(frame(0, True))
    first = await asyncio.wait_for(reader, 1)
    assert first.pts == 0
    for i in range(1, 4):
        pub.fanout.push(frame(i * 3000, False))
    pub.fanout.push(frame(4 * 3000, False))  # the 4th queued frame: overflow
    assert track.overflows == 1
    assert track.holding
    await pub.wait_pli()
    pub.fanout.push(frame(5 * 3000, False))  # still held
    pub.fanout.push(frame(6 * 3000, True))
    packet = await asyncio.wait_for(track.recv(), 1)
    assert (bytes(packet), packet.pts) == (KEY, 6 * 3000)
    assert track.dropped == 5
    track.stop()


async def test_audio_overflow_drops_the_oldest() -> None:
    pub = Publisher(OPUS)
    track = ForwardedTrack("audio", clock_rate=48000, capacity=2)
    track.switch(pub.fanout)
    reader = await pulling(track)
    for i in range(4):
        pub.fanout.push(MediaFrame(bytes([i]), i * 960, True))
    # the reader has not run yet: 2 queued, then each new frame pushes out the oldest
    assert bytes(await asyncio.wait_for(reader, 1)) == b"\x02"
    assert bytes(await track.recv()) == b"\x03"
    assert (track.overflows, track.dropped) == (2, 2)
    assert pub.plis == 0  # audio never asks for keyframes
    track.stop()
    await pub.fanout.close()


async def test_switching_sources_keeps_timestamps_continuous(pub: Publisher) -> None:
    other = Publisher()
    track = ForwardedTrack("video", clock_rate=90000, capacity=10)
    track.switch(pub.fanout)
    reader = await pulling(track)
    pub.fanout.push(frame(500_000, True))
    pub.fanout.push(frame(503_000, False))
    assert (await asyncio.wait_for(reader, 1)).pts == 0
    assert (await track.recv()).pts == 3000
    track.switch(other.fanout)
    assert track in other.fanout.sinks
    assert track not in pub.fanout.sinks
    await other.wait_pli()  # a new source: hold and ask it for a keyframe
    pub.fanout.push(frame(506_000, True))  # the old source no longer reaches it
    other.fanout.push(frame(7, False))
    other.fanout.push(frame(10, True))
    assert (await asyncio.wait_for(track.recv(), 1)).pts == 6000
    other.fanout.push(frame(3010, False))
    assert (await track.recv()).pts == 9000
    track.stop()
    await other.fanout.close()


async def test_source_end_detaches_and_stop_ends_recv(pub: Publisher) -> None:
    track = ForwardedTrack("video", clock_rate=90000, capacity=10)
    track.switch(pub.fanout)
    reader = await pulling(track)
    pub.fanout.end()
    assert track.source is None
    assert not pub.fanout.sinks
    pub.fanout.push(frame(0, True))  # ignored once ended: nothing reaches the track
    assert (pub.fanout.frames_in, track.queued) == (0, 0)
    assert not reader.done()  # an inactive m-line just waits
    track.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(reader, 1)


async def test_restart_holds_again_and_remote_requests_are_forwarded(pub: Publisher) -> None:
    track = ForwardedTrack("video", clock_rate=90000, capacity=10)
    track.switch(pub.fanout)
    reader = await pulling(track)
    await pub.wait_pli()
    pub.fanout.push(frame(0, True))
    await asyncio.wait_for(reader, 1)
    track.restart()
    assert track.holding
    await pub.wait_pli()
    track.on_remote_keyframe_request()
    await pub.wait_pli()
    assert track.remote_keyframe_requests == 1
    track.stop()


async def test_foreign_codec_frames_are_not_forwarded(pub: Publisher) -> None:
    track = ForwardedTrack("video", clock_rate=90000, capacity=10)
    track.switch(pub.fanout)
    await pulling(track)
    pub.fanout.push_encoded("video/H264", b"\x00\x00\x01\x65", 0)
    assert pub.fanout.foreign_frames == 1
    assert pub.fanout.frames_in == 0
    pub.fanout.push_encoded("video/VP8", KEY, 0)
    assert pub.fanout.keyframes_in == 1
    assert not track.holding
    track.stop()


async def test_keyframe_requests_are_throttled_and_coalesced() -> None:
    sent: list[float] = []
    loop = asyncio.get_running_loop()
    first, second = asyncio.Event(), asyncio.Event()

    async def send() -> None:
        sent.append(loop.time())
        (first if len(sent) == 1 else second).set()

    # An interval long enough that "at once" cannot be mistaken for "after the interval" even
    # on a loaded machine.
    requester = KeyframeRequester(send, min_interval=0.4)
    asked = loop.time()
    for _ in range(5):
        requester.request()
    async with asyncio.timeout(30):
        await first.wait()
    assert len(sent) == 1
    assert sent[0] - asked < 0.4  # the first goes out at once, not after the interval
    for _ in range(5):
        requester.request()  # merged into one, sent when the interval ends
    async with asyncio.timeout(30):
        await second.wait()
    assert sent[1] - sent[0] >= 0.39
    assert (requester.requested, requester.sent) == (10, 2)
    requester.request()  # pending, then closed: never sent
    await requester.close()
    assert requester.sent == 2
    requester.request()
    assert (requester.requested, requester.sent) == (11, 2)  # closed: not even counted


async def test_keyframe_request_failures_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise OSError("gone")

    logged = asyncio.Event()

    class Logged(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "keyframe request failed":
                logged.set()

    logger = logging.getLogger("liveclass.media.keyframes")
    handler = Logged()
    logger.addHandler(handler)
    requester = KeyframeRequester(broken, min_interval=0)
    try:
        requester.request()
        async with asyncio.timeout(30):
            await logged.wait()
    finally:
        logger.removeHandler(handler)
        await requester.close()
    assert "keyframe request failed" in caplog.text
