"""The media bench end to end, small: a real hub and media worker on the real Redis, one
publisher process and two subscriber processes (one subscriber each) of real aiortc peers,
3 seconds measured. Behaviour only: every figure is there and sane, none is a timing bound.
Plus the pure parts: RTP counting and the profile summary."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cli import main
from bench.media.deploy import DeployOptions
from bench.media.profile import summarize_collapsed
from bench.media.report import plot_media, summary
from bench.media.rtp import StreamCounter, is_vp8_keyframe_start
from bench.media.run import MediaOptions, run_media
from tests.services import check_redis, redis_url


async def test_one_publisher_two_subscribers_through_a_spawned_hub_and_worker(
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
        deploy=DeployOptions(redis_url=redis_url()),
    )
    result = await run_media(options)

    assert result["join"] == {
        "subscribers": 2,
        "joined": 2,
        "receiving": 2,
        "failures": [],
        "publish_ms": result["join"]["publish_ms"],
    }
    # the room was placed on the worker the bench spawned
    assert list(result["deployment"]["placement"].values()) == [
        w for w in result["deployment"]["placement"].values() if w and w.startswith("mbench-")
    ]
    assert len(result["deployment"]["placement"]) == 1
    forwarded = result["forwarded"]
    assert forwarded["video_packets_per_s"] > 0
    assert forwarded["audio_packets_per_s"] > 0
    assert forwarded["packets"] >= forwarded["received_packets"] > 0
    assert len(result["cpu"]["workers_s"]) == 1
    assert result["cpu"]["workers_s"][0] > 0
    assert result["packets_per_core_s"] > 0
    assert result["worker_us_per_packet"] > 0
    assert result["publisher"]["video_fps"] > 0
    assert len(result["subscribers"]) == 2
    for subscriber in result["subscribers"]:
        assert 0 <= subscriber["loss_pct"] <= 100
        assert subscriber["video_fps"] > 0
        assert subscriber["first_frame_ms"] is not None
        assert subscriber["connect_ms"] is not None
        assert subscriber["offers"] >= 1
        assert subscriber["errors"] == []
    assert result["first_frame_ms"]["n"] == 2
    assert result["loss_pct"]["n"] == 2
    assert result["capacity"]["linear_max_subscribers_per_worker"] > 0
    assert result["capacity"]["max_subscribers_per_worker"] > 0
    assert result["publisher"]["packets_per_s"] > 0

    # the result is JSON and the report reads it
    document = json.loads(json.dumps(result))
    assert "forwarded packets/s per core" in summary(document)
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
