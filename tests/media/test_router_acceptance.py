"""Acceptance: real aiortc peers through the router, over loopback.

A publisher sends generated VP8 video and Opus audio; three subscribers decode them (one
subscribed before anything was published, one after, one joining late). The late one decodes
its first video frame within 1 s of its connection coming up — the publisher's encoder makes
a keyframe only when asked (aiortc's VP8 GOP is 3000 frames), so this measures the router's
keyframe handling: hold the new subscriber, PLI the publisher, forward the keyframe.

The router never decodes or encodes: every decoder aiortc creates is recorded with its
thread, every encoder with its task, and none belongs to the router's receivers or senders.
Then a subscriber leaves without disturbing the others, and the publisher leaves, which
makes every subscriber renegotiate its m-lines to inactive.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest
from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket

from media.aiortc_hooks import PacketOnlyEncoder, sender_encoder
from media.aiortc_outlet import RtpOutlet
from media.aiortc_receiver import decoder_thread
from media.router import Router
from media.subscriber import Offer
from tests.media.peers import (
    HEIGHT,
    WIDTH,
    ClientPublisher,
    ClientSubscriber,
)
from tests.waiting import eventually

LATE_JOIN_LIMIT = 1.0


class CodecSpy:
    """Records which thread creates each decoder and which task creates each encoder."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decoder_threads: list[threading.Thread] = []
        self.encoder_tasks: list[asyncio.Task[Any] | None] = []
        real_decoder = aiortc.rtcrtpreceiver.get_decoder  # type: ignore[attr-defined]
        real_encoder = aiortc.rtcrtpsender.get_encoder  # type: ignore[attr-defined]

        def get_decoder(codec: Any) -> Any:
            self.decoder_threads.append(threading.current_thread())
            return real_decoder(codec)

        def get_encoder(codec: Any) -> Any:
            self.encoder_tasks.append(asyncio.current_task())
            return real_encoder(codec)

        monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", get_decoder)
        monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", get_encoder)


async def test_publisher_to_three_subscribers_without_transcoding(
    loopback_room: tuple[Router, dict[str, ClientSubscriber]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router, subscribers = loopback_room
    caplog.set_level(logging.WARNING, logger="aiortc")
    spy = CodecSpy(monkeypatch)

    # A subscribes before anything is published: nothing to offer yet
    early = subscribers["early"] = ClientSubscriber(router, "early")
    assert await router.subscribe("early") is None
    early._tasks.append(asyncio.ensure_future(early._answer_offers()))

    publisher = ClientPublisher(router, "teacher")
    answer = await asyncio.wait_for(publisher.publish(), 10)
    assert "b=AS:" in answer
    try:
        assert len(router.tracks) == 2
        assert {t.codec.mime_type for t in router.tracks} == {"video/vp8", "audio/opus"}

        second = subscribers["second"] = ClientSubscriber(router, "second")
        await asyncio.wait_for(second.join(), 10)

        for sub in (early, second):
            await sub.until_frames(20, 20, 15)

        # the late joiner: connection up -> first decoded video frame in under a second
        late = subscribers["late"] = ClientSubscriber(router, "late")
        requests_before = _video(router).keyframe_requests_sent
        await asyncio.wait_for(late.join(), 10)
        await late.until(lambda: late.first_video_at is not None, 10)
        assert late.connected_at is not None
        assert late.first_video_at is not None
        first_frame = late.first_video_at - late.connected_at
        print(
            f"\nlate subscriber: first video frame decoded {first_frame * 1000:.0f} ms "
            "after its connection was established"
        )
        assert first_frame < LATE_JOIN_LIMIT
        assert _video(router).keyframe_requests_sent > requests_before
        await late.until(lambda: late.video_frames >= 20 and late.audio_frames >= 20, 10)

        for sub in (early, second, late):
            assert sub.video_sizes == {(WIDTH, HEIGHT)}
            # the msid names the publisher: teacher:<kind>:<n>
            assert sorted(i.split(":")[:2] for i in sub.track_ids) == [
                ["teacher", "audio"],
                ["teacher", "video"],
            ]

        # no decode, no encode in the router
        router_threads = [
            decoder_thread(tap_receiver) for tap_receiver in _router_receivers(router)
        ]
        assert all(t is not None for t in router_threads)
        assert not set(spy.decoder_threads) & set(router_threads)
        assert len(spy.decoder_threads) >= 6  # the clients did decode: the spy works
        assert all(tap.frames > 0 and tap.decoded == 0 for tap in router.publishers["teacher"].taps)
        # aiortc keeps the task that runs a sender's encoder private
        client_encoder_tasks = {
            s._RTCRtpSender__rtp_task  # type: ignore[attr-defined]
            for s in publisher.pc.getSenders()
        }
        assert spy.encoder_tasks
        assert set(spy.encoder_tasks) <= client_encoder_tasks
        for served in router.subscribers.values():
            # forwarded as RTP: nothing encoded, nothing re-packetized, every m-line sent
            for encoder in served.encoders:
                assert encoder.encoded == 0
                assert encoder.packed == 0
            outlets = [t.outlet for t in served.outputs]
            assert all(isinstance(o, RtpOutlet) and o.sent > 0 for o in outlets)
            for transceiver in served.pc.getTransceivers():
                assert isinstance(sender_encoder(transceiver.sender), PacketOnlyEncoder)

        # every subscriber started on a keyframe: no decoder ever saw a broken reference
        assert "failed to decode" not in caplog.text

        # one subscriber leaves: the others keep receiving
        await asyncio.wait_for(router.remove("second"), 10)
        marks = {s: (s.video_frames, s.audio_frames) for s in (early, late)}
        for sub, (video, audio) in marks.items():
            await sub.until_frames(video + 15, audio + 15, 5)
        assert "second" not in router.subscribers
        assert all(len(t.rtp_sinks) == 2 for t in router.tracks)
    finally:
        # the publisher leaves: every subscriber renegotiates its m-lines to inactive
        answered = {s: s.answered for s in (early, late)}
        await asyncio.wait_for(router.remove("teacher"), 10)
        await publisher.close()
    assert router.tracks == []
    for sub, count in answered.items():
        await sub.until_answered(count, 10)
        assert sub.directions() == ["inactive", "inactive"]
        assert sub.last_offer.count("a=inactive") == 2
    assert all(t.source is None for s in router.subscribers.values() for t in s.outputs)


def _video(router: Router) -> Any:
    return next(t for t in router.tracks if t.kind == "video")


def _router_receivers(router: Router) -> list[Any]:
    return [t.receiver for p in router.publishers.values() for t in p.pc.getTransceivers()]


async def test_late_join_timing_is_measured_from_connection(
    loopback_room: tuple[Router, dict[str, ClientSubscriber]],
) -> None:
    """A second late joiner, after the first one's keyframe: still held, still under 1 s."""
    router, subscribers = loopback_room
    publisher = ClientPublisher(router, "teacher")
    await asyncio.wait_for(publisher.publish(), 10)
    try:
        first = subscribers["a"] = ClientSubscriber(router, "a")
        await asyncio.wait_for(first.join(), 10)
        await first.until(lambda: first.video_frames >= 30, 15)
        started = time.monotonic()
        second = subscribers["b"] = ClientSubscriber(router, "b")
        await asyncio.wait_for(second.join(), 10)
        await second.until(lambda: second.first_video_at is not None, 10)
        assert second.connected_at is not None
        assert second.first_video_at is not None
        elapsed = second.first_video_at - second.connected_at
        print(
            f"\nsecond late subscriber: first frame {elapsed * 1000:.0f} ms after connecting "
            f"({(second.first_video_at - started) * 1000:.0f} ms after subscribing)"
        )
        assert elapsed < LATE_JOIN_LIMIT
        # it was held: the frames before its keyframe were dropped, not sent
        held = [t for t in router.subscribers["b"].outputs if t.kind == "video"]
        assert held
        assert not held[0].holding
    finally:
        await router.remove("teacher")
        await publisher.close()


class GatedSubscriber(ClientSubscriber):
    """Answers the router's offers once ``gate`` is set (so its connection comes up when the
    test wants it to)."""

    def __init__(self, router: Router, participant_id: str) -> None:
        super().__init__(router, participant_id)
        self.gate = asyncio.Event()
        #: Set when the router's offer came (its m-lines exist, unanswered while gated).
        self.offered = asyncio.Event()

    async def handle_offer(self, offer: Offer) -> None:
        self.offered.set()
        await self.gate.wait()
        await super().handle_offer(offer)


class DeafToKeyframeRequests:
    """Makes a client publisher's video sender ignore keyframe requests (PLI/FIR) while
    ``deaf``, as when the RTCP packet is lost, or when Chrome drops a request that comes
    within 300 ms of the previous one. Its encoder then makes keyframes only when asked, as
    Chrome's does: bitrate estimates (REMB), after which aiortc's would start afresh with a
    keyframe, are ignored too."""

    def __init__(self, publisher: ClientPublisher) -> None:
        sender = next(s for s in publisher.pc.getSenders() if s.track and s.track.kind == "video")
        self.deaf = False
        self.ignored = 0
        self.heard = 0
        #: Set once a second request was ignored: the router asked again.
        self.asked_again = asyncio.Event()
        handle = sender._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket):
                if packet.fmt not in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                    return  # REMB
                if self.deaf:
                    self.ignored += 1
                    if self.ignored >= 2:
                        self.asked_again.set()
                    return
                self.heard += 1
            await handle(packet)

        sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]


async def test_a_second_publisher_reaches_a_subscriber_whose_keyframe_request_is_lost(
    loopback_room: tuple[Router, dict[str, ClientSubscriber]],
) -> None:
    """A subscriber is in the room when a second participant starts publishing (a student
    the host let use their camera). Its connection comes up after her first keyframe went by,
    so its new m-line is held and the router asks her for a keyframe, and that request goes
    unanswered. Her encoder makes keyframes only when asked (aiortc's VP8 GOP is 3000
    frames, Chrome's likewise): the router must ask again, or the subscriber never sees her."""
    router, subscribers = loopback_room
    sam = GatedSubscriber(router, "sam")
    subscribers["sam"] = sam
    await asyncio.wait_for(sam.join(), 10)  # nothing to receive yet: no offer
    sue = ClientPublisher(router, "sue")
    try:
        await asyncio.wait_for(sue.publish(), 10)
        plis = DeafToKeyframeRequests(sue)
        # (a counter of the router's task: no event tells a keyframe came in)
        await eventually(lambda: bool(router.tracks) and _video(router).keyframes_in >= 1, 15)
        # Her first keyframe went to nobody; now Sam's connection comes up, and the keyframe
        # request made for his held m-line is lost.
        plis.deaf = True
        sam.gate.set()
        held = await _held_output(sam)
        await asyncio.wait_for(plis.asked_again.wait(), 15)
        assert held.dropped >= 1
        assert held.holding
        assert plis.ignored >= 2
        plis.deaf = False
        await sam.until(lambda: sam.video_frames >= 5, 15)
        assert plis.heard >= 1
        assert not held.holding
    finally:
        await router.remove("sue")
        await sue.close()


async def _held_output(subscriber: GatedSubscriber) -> Any:
    """The subscriber's video m-line, once its sender pulls (its connection is up)."""
    await asyncio.wait_for(subscriber.offered.wait(), 15)
    server_side = subscriber.router.subscribers[subscriber.participant_id]
    video = next(t for t in server_side.outputs if t.kind == "video")
    await asyncio.wait_for(video.until_pulling(), 15)
    return video
