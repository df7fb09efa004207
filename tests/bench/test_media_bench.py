"""The media bench end to end, small: a real hub and media worker on the real Redis, then
Janus (Debian's package: ``liveclass-bench setup --janus``), each with one publisher process
and two subscriber processes (one subscriber each) of real aiortc peers, 3 seconds measured,
two late joiners. Behaviour only: every figure is there and sane, none is a timing bound.
Plus the pure parts: RTP and tagged-frame counting and the profile summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil

from bench.cli import main
from bench.media.deploy import DeployOptions
from bench.media.neighbour import busy_neighbour
from bench.media.profile import summarize_collapsed
from bench.media.report import plot_media, summary
from bench.media.rtp import StreamCounter, is_vp8_keyframe_start
from bench.media.run import MediaOptions, run_media
from bench.media.tags import FrameTally, read_tag, tag
from tests.services import check_redis, redis_url


async def test_the_same_publisher_and_subscribers_through_liveclass_and_janus(
    tmp_path: Path,
) -> None:
    check_redis()
    options = MediaOptions(
        subscribers=2,
        processes=2,
        duration=3.0,
        warmup=0.5,
        width=320,
        height=240,
        video_kbps=300,
        pin=False,
        ready_timeout=20.0,
        late_joiners=2,
        late_gap=0.3,
        settle=0.5,
        independent_check=True,
        deploy=DeployOptions(redis_url=redis_url()),
    )
    result = await run_media(options)

    assert [r["target"] for r in result["runs"]] == ["liveclass", "janus"]
    for run in result["runs"]:
        assert run["join"] == {
            "subscribers": 2,
            "joined": 2,
            "receiving": 2,
            "failures": [],
            "publish_ms": run["join"]["publish_ms"],
        }
        forwarded = run["forwarded"]
        assert forwarded["video_packets_per_s"] > 0
        assert forwarded["audio_packets_per_s"] > 0
        assert forwarded["packets"] >= forwarded["received_packets"] > 0
        assert len(run["cpu"]["sfu_s"]) == 1
        assert run["cpu"]["sfu_s"][0] > 0
        assert run["us_per_packet"] > 0
        assert all(u is not None for u in run["cpu"]["loadgen_utilisation"])
        assert run["cpu"]["subscriber_us_per_received_packet"] > 0
        assert run["publisher"]["video_fps"] > 0
        # every frame of the window is accounted for, per subscriber and kind
        for kind in ("video", "audio"):
            frames = run["frames"][kind]
            assert frames["expected"] > 0
            assert 0 < frames["received"] <= frames["expected"]
            assert frames["delay_p50_ms"] is not None
            assert frames["delay_p50_ms"] >= 0
        # joined during the window; whether they got a keyframe before its end is a timing
        # figure (a loaded machine may take longer), reported, not asserted
        assert run["late_joiners"]["joined"] == 2
        assert 0 <= run["late_joiners"]["served"] <= 2
        assert len(run["per_subscriber"]) == 2
        # the capture saw the SFU's RTP to both subscribers and perf its CPU
        independent = run["independent"]
        assert independent["sent"]["destinations"] == 2
        assert independent["sent"]["rtp"] > 0
        assert independent["capture_dropped"] == 0
        assert independent["cpu_s"] > 0
        packets = independent["agreement"]["figures"]["packets_per_s"]["ratio"]
        assert 1 / 1.5 <= packets <= 1.5
        for subscriber in run["per_subscriber"]:
            assert subscriber["first_frame_ms"] is not None
            assert subscriber["offers"] >= 1
            assert subscriber["errors"] == []
            # the subscribers' RTP came straight off the socket (media.aiortc_receiver)
            assert subscriber["direct"]["packets"] > 0
            assert subscriber["direct"]["dropped"] == 0
    liveclass = result["runs"][0]
    # the room was placed on the worker the bench spawned
    assert [w[:7] for w in liveclass["deployment"]["placement"].values()] == ["mbench-"]
    assert result["comparison"][0]["us_per_packet_vs_janus"] > 0

    # the result is JSON and the report reads it
    document = json.loads(json.dumps(result))
    assert "liveclass / Janus" in summary(document)
    assert "independent check" in summary(document)
    assert plot_media(document, tmp_path).is_file()


def test_media_refuses_a_url_without_a_secret() -> None:
    assert main(["media", "--url", "http://127.0.0.1:9", "--subscribers", "1"]) == 2


def _vp8(keyframe: bool, start: bool = True, extended: bool = True) -> bytes:
    descriptor = bytes([0x90 if extended else 0x10]) if start else bytes([0x80])
    if extended:
        descriptor += bytes([0x80, 0x81, 0x23])  # I: a 15-bit picture id
    header = bytes([0x00 if keyframe else 0x01, 0, 0])
    return descriptor + header + b"\x9d\x01\x2a" + b"\x00" * 8


def test_vp8_keyframe_starts_are_recognised() -> None:
    assert is_vp8_keyframe_start(_vp8(True))
    assert is_vp8_keyframe_start(_vp8(True, extended=False))
    assert not is_vp8_keyframe_start(_vp8(False))
    assert not is_vp8_keyframe_start(_vp8(True, start=False))
    assert not is_vp8_keyframe_start(b"\x90")


def test_stream_counter_counts_loss_across_sequence_wrap() -> None:
    counter = StreamCounter("video")
    sequence = [65533, 65534, 0, 2, 3, 1]  # 65535 lost; 1 late
    for i, seq in enumerate(sequence):
        counter.add(seq, marker=int(i == 2), payload=_vp8(i == 0))
    snap = counter.snapshot()
    assert snap["packets"] == 6
    assert snap["expected"] == 7  # 65533 .. 3
    assert snap["frames"] == 1
    assert snap["keyframes"] == 1
    assert counter.first_keyframe_at is not None


def _frame(seq: int, index: int, packets: int, counter: StreamCounter, skip: int = -1) -> None:
    """One tagged VP8 frame of ``packets`` packets from ``seq`` (packet ``skip`` lost)."""
    for k in range(packets):
        if k == skip:
            continue
        payload = _vp8(False, start=k == 0) + (tag(b"", index, 0) if k == packets - 1 else b"")
        counter.add((seq + k) & 0xFFFF, int(k == packets - 1), payload, 5_000_000)


def test_frames_count_only_when_complete_and_tagged() -> None:
    tally = FrameTally()
    counter = StreamCounter("video", tally=tally)
    _frame(65534, 0, 3, counter)  # across the wrap: complete
    _frame(1, 1, 3, counter, skip=1)  # a packet lost inside: not received
    _frame(4, 2, 2, counter, skip=0)  # its start lost: not received
    _frame(6, 3, 1, counter)
    # the packetizer split the tag over the frame's last two packets
    tagged = tag(b"frame", 4, 0)
    counter.add(7, 0, _vp8(False) + tagged[:9], 5_000_000)
    counter.add(8, 1, bytes([0x80, 0x80, 0x81, 0x23]) + tagged[9:], 5_000_000)
    window = tally.window(0, 6)  # frame 5 was never sent to us
    assert window["expected"] == 6
    assert window["received"] == 3
    assert window["lost_pct"] == 50.0
    assert window["delay_p50_ms"] == 5.0
    assert tally.window(1, 3)["received"] == 0


def test_audio_frames_are_one_packet_each() -> None:
    tally = FrameTally()
    counter = StreamCounter("audio", tally=tally)
    for i in range(4):
        if i != 2:
            counter.add(100 + i, 1, tag(b"opus", i, 1_000_000), 3_000_000)
    counter.add(104, 1, b"untagged", 3_000_000)
    assert tally.window(0, 4) == {
        "expected": 4,
        "received": 3,
        "lost_pct": 25.0,
        "delay_p50_ms": 2.0,
        "delay_p95_ms": 2.0,
        "delay_max_ms": 2.0,
    }
    assert read_tag(tag(b"x", 7, 9)) == (7, 9)
    assert read_tag(b"short") is None


def test_profile_summary_shares_self_and_inclusive_time() -> None:
    text = (
        "process 1:python -m api.cli media;thread (0x1): MainThread;run (asyncio/base.py:10);"
        "pack (aiortc/codecs/vpx.py:200) 30\n"
        "process 1:python -m api.cli media;thread (0x1): MainThread;run (asyncio/base.py:10);"
        "send (aiortc/rtcrtpsender.py:300);encrypt (pylibsrtp/__init__.py:5) 70\n"
    )
    profile = summarize_collapsed(text)
    assert profile["samples"] == 100
    assert profile["self"][0] == {"function": "encrypt (pylibsrtp/__init__.py)", "pct": 70.0}
    assert {"function": "run (asyncio/base.py)", "pct": 100.0} in profile["inclusive"]


async def test_a_busy_neighbour_spins_on_the_given_core_until_the_block_ends() -> None:
    core = sorted(os.sched_getaffinity(0))[0]
    async with busy_neighbour([core]) as pid:
        process = psutil.Process(pid)
        assert process.cpu_affinity() == [core]
        assert process.is_running()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
