"""Adaptive quality without a network: the layer selector's decisions (a fake clock), a
subscriber track switching layers only at the target layer's keyframe with one continuous
numbering, and a publisher joining the m-lines an offer names as layers into one track."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from aiortc.rtp import RtpPacket

from media.fanout import TrackFanout
from media.forwarding import ForwardedTrack
from media.layers import LayerSelector, RateMeter, SelectorConfig
from media.probing import pace_padding
from media.sdp import CodecSpec
from tests.media.test_rtp_forwarding import Outlet, packet, vp8

VP8 = CodecSpec("video", "video/vp8", 90000, None, ())
LEVELS = [150_000.0, 600_000.0]  # what the low and the high layer send


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def selector(clock: Clock) -> LayerSelector:
    return LayerSelector(SelectorConfig(probe_after=5, max_probe_after=20, trial=3), clock=clock)


def test_loss_sends_a_subscriber_down_and_it_stays_there_while_the_link_is_poor() -> None:
    clock = Clock()
    s = selector(clock)
    assert s.feedback(LEVELS, loss=0.0) == 1  # starts high
    assert s.feedback(LEVELS, remb=900_000) == 1
    assert s.feedback(LEVELS, loss=0.25) == 0  # one lossy report is enough
    clock.now += 2
    assert s.feedback(LEVELS, loss=0.0) == 0  # not yet time to try again


def test_a_low_remb_twice_in_a_row_sends_it_down_once_is_noise() -> None:
    clock = Clock()
    s = selector(clock)
    assert s.feedback(LEVELS, remb=300_000) == 1
    assert s.feedback(LEVELS, remb=800_000) == 1  # recovered: the count starts over
    assert s.feedback(LEVELS, remb=300_000) == 1
    assert s.feedback(LEVELS, remb=250_000) == 0


def test_probing_up_backs_off_when_it_fails_and_resets_when_it_holds() -> None:
    clock = Clock()
    s = selector(clock)
    s.feedback(LEVELS, loss=0.5)
    clock.now += 5
    assert s.feedback(LEVELS, loss=0.0) == 1  # a trial
    assert s.in_trial
    # a low REMB right after going up is the estimate still catching up: ignored
    assert s.feedback(LEVELS, remb=200_000) == 1
    assert s.feedback(LEVELS, remb=200_000) == 1
    clock.now += 1
    assert s.feedback(LEVELS, loss=0.3) == 0  # the trial failed: wait 10 s now
    clock.now += 6
    assert s.feedback(LEVELS, loss=0.0) == 0
    clock.now += 4
    assert s.feedback(LEVELS, loss=0.0) == 1
    clock.now += 1
    assert s.feedback(LEVELS, loss=0.3) == 0  # failed again: 20 s (the cap)
    clock.now += 19
    assert s.feedback(LEVELS, loss=0.0) == 0
    clock.now += 1
    assert s.feedback(LEVELS, loss=0.0) == 1
    clock.now += 3.5
    assert s.feedback(LEVELS, loss=0.0) == 1  # the trial passed: back to 5 s
    assert s.feedback(LEVELS, loss=0.4) == 0
    clock.now += 5
    assert s.feedback(LEVELS, loss=0.0) == 1
    assert (s.switches_down, s.switches_up) == (4, 4)


def prober(clock: Clock) -> LayerSelector:
    config = SelectorConfig(
        probe_after=5, max_probe_after=20, trial=3, probe_ramp=2, probe_hold=3,
        probe_verdict_wait=2,
    )  # fmt: skip
    return LayerSelector(config, clock=clock)


def probe_started(s: LayerSelector, clock: Clock) -> None:
    assert s.feedback(LEVELS, loss=0.5, can_probe=True) == 0
    clock.now += 5
    assert s.feedback(LEVELS, loss=0.0, can_probe=True) == 0  # not up: a probe instead
    assert s.probing
    assert s.in_trial


def test_going_up_is_probed_with_padding_first_and_a_failed_probe_keeps_the_level() -> None:
    clock = Clock()
    s = prober(clock)
    probe_started(s, clock)
    # padding ramps from nothing to what makes the total 115 % of the high layer
    assert s.probe_padding() == 0
    clock.now += 1
    assert s.probe_padding() == pytest.approx((1.15 * 600_000 - 150_000) / 2)
    clock.now += 1.5
    assert s.probe_padding() == pytest.approx(1.15 * 600_000 - 150_000)
    assert s.feedback(LEVELS, remb=400_000, can_probe=True) == 0
    assert s.feedback(LEVELS, loss=0.0, can_probe=True) == 0  # before the verdict: no
    # the receiver's estimate falls: its delay detector saw a queue grow. Stop at once
    assert s.feedback(LEVELS, remb=390_000, can_probe=True) == 0
    assert not s.probing
    assert s.probe_padding() == 0
    assert (s.probes, s.probes_failed, s.probe_failures) == (1, 1, {"overuse": 1})
    assert list(s.probe_history) == [(2.5, "overuse")]
    assert s.switches_up == 0
    # the wait doubles: 10 s from the failure
    clock.now += 9
    assert s.feedback(LEVELS, loss=0.0, can_probe=True) == 0
    assert not s.probing
    clock.now += 1
    s.feedback(LEVELS, loss=0.0, can_probe=True)
    assert s.probing


def test_a_probe_that_the_link_carries_switches_up_after_its_ramp_and_hold() -> None:
    clock = Clock()
    s = prober(clock)
    probe_started(s, clock)
    for remb in (300_000, 350_000, 420_000, 500_000):  # growing: no overuse
        clock.now += 1
        assert s.feedback(LEVELS, remb=remb, can_probe=True) == 0
        assert s.feedback(LEVELS, loss=0.0, probe_loss=0.0, can_probe=True) == 0
    clock.now += 1.5  # 5.5 s: ramp and hold are over, the next clean report decides
    assert s.probe_padding() > 0  # padding goes on until the verdict
    assert s.feedback(LEVELS, remb=510_000, can_probe=True) == 0  # a REMB is no loss report
    assert s.feedback(LEVELS, loss=0.01, probe_loss=0.0, can_probe=True) == 1
    assert not s.probing
    assert s.probe_padding() == 0
    assert (s.probes, s.probes_failed, s.switches_up) == (1, 0, 1)
    assert s.in_trial  # the trial after a switch up still guards it


@pytest.mark.parametrize(
    ("signal", "reason"),
    [
        ({"loss": 0.04}, "loss"),  # media loss: the trial threshold (3 %) counts while probing
        ({"loss": 0.0, "probe_loss": 0.08}, "padding loss"),
        ({}, "no report"),
    ],
)
def test_a_probe_fails_on_loss_of_media_or_padding_or_without_reports(
    signal: dict[str, float], reason: str
) -> None:
    clock = Clock()
    s = prober(clock)
    probe_started(s, clock)
    clock.now += 1
    if signal:
        assert s.feedback(LEVELS, **signal, can_probe=True) == 0
    else:
        clock.now += 6.5  # past ramp, hold and the wait for a verdict, no report at all
        assert s.probe_padding() == 0
        assert s.feedback(LEVELS, remb=900_000, can_probe=True) == 0
    assert not s.probing
    assert s.probe_failures == {reason: 1}


def test_a_probe_fails_when_round_trips_grow_twice_in_a_row() -> None:
    clock = Clock()
    s = prober(clock)
    assert s.feedback(LEVELS, loss=0.0, rtt=0.030, can_probe=True) == 1
    probe_started(s, clock)
    for rtt in (0.020, 0.060, 0.140, 0.050):  # one long round trip is noise
        clock.now += 0.2
        assert s.feedback(LEVELS, loss=0.0, rtt=rtt, can_probe=True) == 0
    assert s.probing
    clock.now += 0.2
    s.feedback(LEVELS, loss=0.0, rtt=0.110, can_probe=True)  # the floor is 0.020 now
    assert s.probing
    clock.now += 0.2
    s.feedback(LEVELS, loss=0.0, rtt=0.150, can_probe=True)  # twice in a row: a queue
    assert not s.probing
    assert s.probe_failures == {"delay": 1}


def test_without_rtx_the_selector_goes_up_by_trial_alone() -> None:
    clock = Clock()
    s = prober(clock)
    s.feedback(LEVELS, loss=0.5)
    clock.now += 5
    assert s.feedback(LEVELS, loss=0.0, can_probe=False) == 1
    assert not s.probing
    assert s.probes == 0


def test_a_single_layer_is_never_switched() -> None:
    clock = Clock()
    s = selector(clock)
    assert s.feedback([500_000.0], loss=0.9) == 0
    clock.now += 60
    assert s.feedback([500_000.0], loss=0.0) == 0
    assert s.switches_down == s.switches_up == 0


def test_rate_meter() -> None:
    clock = Clock()
    meter = RateMeter(window=1.0, clock=clock)
    for _ in range(11):
        clock.now += 0.1
        meter.add(1250)  # 12.5 kB a second
    assert meter.bps == pytest.approx(100_000)  # the first second's ten packets


@pytest.fixture
async def layered() -> AsyncIterator[tuple[TrackFanout, TrackFanout]]:
    asked: list[str] = []

    def fanout(name: str) -> TrackFanout:
        async def pli() -> None:
            asked.append(name)

        return TrackFanout(
            track_id=f"t:video:{name}",
            publisher_id="t",
            codec=VP8,
            send_keyframe_request=pli,
            keyframe_interval=0,
        )

    low, high = fanout("low"), fanout("high")
    high.layers = [low, high]
    yield low, high
    await high.close()
    await low.close()


def push(layer: TrackFanout, seq: int, ts: int, *, key: bool, pid: int) -> RtpPacket:
    p = packet(seq, ts, vp8(start=True, key=key, picture_id=pid), marker=1)
    layer.push_rtp(p, "video/vp8")
    return p


async def test_a_subscriber_switches_layers_at_the_target_layers_keyframe(
    layered: tuple[TrackFanout, TrackFanout],
) -> None:
    low, high = layered
    outlet = Outlet()
    track = ForwardedTrack(
        "video", clock_rate=90000, capacity=1, outlet=outlet, mime_type=VP8.mime_type
    )
    track.switch(high)  # the top layer first
    reader = asyncio.ensure_future(track.recv())
    await track.until_pulling()
    assert track.layer is high
    assert track.source is high
    push(high, 10, 1000, key=True, pid=50)
    push(low, 500, 7000, key=False, pid=900)  # not forwarded: another layer
    push(high, 11, 4000, key=False, pid=51)
    assert [s for s, *_ in outlet.drain()] == [
        track._rewriter.last_seq - 1,
        track._rewriter.last_seq,
    ]
    asked = low.keyframe_requests
    track.set_level(0)
    assert low.keyframe_requests > asked  # the target layer is asked for a keyframe
    push(low, 501, 10000, key=False, pid=901)  # no keyframe yet: the high layer goes on
    push(high, 12, 7000, key=False, pid=52)
    push(low, 502, 13000, key=True, pid=902)  # the switch
    push(high, 13, 10000, key=False, pid=53)  # no longer forwarded
    push(low, 503, 16000, key=False, pid=903)
    sent = outlet.drain()
    assert len(sent) == 3
    seqs = [s for s, *_ in sent]
    assert [(b - a) & 0xFFFF for a, b in itertools.pairwise(seqs)] == [1, 1]  # no gap
    stamps = [t for _, t, *_ in sent]
    assert [(b - a) & 0xFFFFFFFF for a, b in itertools.pairwise(stamps)] == [3000, 3000]
    pids = [((p[2] & 0x7F) << 8) | p[3] for *_, p in sent]
    assert pids == [52, 53, 54]  # picture ids continue across the switch
    assert track.layer is low
    assert track.layer_index == 0
    assert track.layer_switches == 1
    assert track not in high.rtp_sinks
    # the low layer ends: the subscriber goes back to the top, held until its keyframe
    high.drop_layer(low)
    assert track.layer is high
    assert track.holding
    push(high, 14, 13000, key=True, pid=54)
    assert len(outlet.drain()) == 1
    # the source ends: the track is detached from every layer
    high.end()
    assert track.source is None
    assert not low.rtp_sinks
    assert not high.rtp_sinks
    track.stop()
    await asyncio.gather(reader, return_exceptions=True)


async def test_a_new_subscriber_starts_at_its_connections_level(
    layered: tuple[TrackFanout, TrackFanout],
) -> None:
    low, high = layered
    track = ForwardedTrack(
        "video", clock_rate=90000, capacity=1, outlet=Outlet(), mime_type=VP8.mime_type
    )
    track.level = 0
    track.switch(high)
    assert track.layer is low
    assert track in low.rtp_sinks
    assert track not in high.rtp_sinks
    track.stop()


class PaddingOutlet:
    """Stands in for an RtpOutlet: records the padding it is asked to send."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.padding_sent = 0

    def send_padding(self, size: int, ntp: int) -> bool:
        self.sizes.append(size)
        self.padding_sent += size
        return True


async def test_the_pacer_sends_the_padding_a_probe_asks_for_until_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = SelectorConfig(
        probe_after=0, probe_ramp=0, probe_hold=0.2, probe_verdict_wait=0.1
    )  # fmt: skip
    s = LayerSelector(config)
    s.feedback(LEVELS, loss=0.5, can_probe=True)
    s.feedback(LEVELS, loss=0.0, can_probe=True)
    assert s.probing
    outlet = PaddingOutlet()
    caplog.set_level("INFO", "liveclass.media.probing")
    # no report ever comes: the probe ends by itself 0.3 s in, and so does the pacer
    pacing = pace_padding(s, outlet, "sue")  # type: ignore[arg-type]
    await asyncio.wait_for(pacing, 5)
    assert s.probe_padding() == 0
    assert outlet.sizes
    assert set(outlet.sizes) == {255}
    # at most 0.3 s of 540 kbit/s (a loaded machine's loop may send less, never more)
    assert outlet.padding_sent <= 0.3 * (1.15 * 600_000 - 150_000) / 8 + 255
    assert "probe for" not in caplog.text  # ended by time: the selector has no verdict yet
    s.feedback(LEVELS, loss=0.0, can_probe=True)
    assert s.probe_failures == {"no report": 1}


async def test_the_pacer_stops_at_once_when_a_probe_fails_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    s = LayerSelector(SelectorConfig(probe_after=5, probe_ramp=0), clock=clock)
    probe_started(s, clock)
    caplog.set_level("INFO", "liveclass.media.probing")
    outlet = PaddingOutlet()
    pacing = asyncio.ensure_future(pace_padding(s, outlet, "sue"))  # type: ignore[arg-type]
    s.feedback(LEVELS, remb=400_000, can_probe=True)
    s.feedback(LEVELS, remb=300_000, can_probe=True)  # overuse
    await asyncio.wait_for(pacing, 5)
    assert "probe for sue failed (overuse)" in caplog.text
