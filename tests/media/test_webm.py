"""media/webm.py: RTP timestamps onto the recording's timeline, and remuxing real VP8 and Opus
frames into WebM files that PyAV reads back (no sockets, no peers)."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from media.webm import OPUS_CLOCK, VP8_CLOCK, TrackTimeline, WebmWriter, vp8_size
from tests.media.encoded import HEIGHT, WIDTH, opus_packets, vp8_frames

# -- TrackTimeline -------------------------------------------------------------------------


def test_the_first_frame_is_anchored_at_its_arrival_and_the_rest_follow_rtp() -> None:
    timeline = TrackTimeline(VP8_CLOCK)
    assert timeline.pts(123_456, arrival=0.5) == 45_000
    assert timeline.pts(123_456 + 3000, arrival=0.9) == 48_000  # RTP decides, not arrival


def test_timestamps_unwrap_across_the_32_bit_boundary() -> None:
    timeline = TrackTimeline(OPUS_CLOCK)
    start = (1 << 32) - 960 * 2
    values = [timeline.pts((start + 960 * i) % (1 << 32), arrival=0.0) for i in range(5)]
    assert values == [0, 960, 1920, 2880, 3840]


def test_a_reordered_frame_goes_back_without_wrapping() -> None:
    timeline = TrackTimeline(OPUS_CLOCK)
    timeline.pts(10_000, arrival=0.0)
    timeline.pts(10_960, arrival=0.0)
    assert timeline.pts(10_000, arrival=0.0) == 0


def test_a_jump_or_a_new_source_re_anchors_never_before_what_was_written() -> None:
    timeline = TrackTimeline(VP8_CLOCK, max_gap=10)
    first = timeline.pts(5_000, arrival=1.0)
    timeline.note_written(first)
    # the publisher restarted its RTP clock: arrival decides again
    assert timeline.pts(4_000_000_000, arrival=3.0) == 3 * VP8_CLOCK
    timeline.note_written(3 * VP8_CLOCK)
    timeline.rebase()
    # a new source arriving "earlier" (clock skew) cannot go back in time
    assert timeline.pts(77, arrival=2.0) == 3 * VP8_CLOCK + 1
    assert timeline.anchors == 3


def test_vp8_size_reads_keyframes_only() -> None:
    frames = vp8_frames(2)
    assert vp8_size(frames[0][0]) == (WIDTH, HEIGHT)
    assert vp8_size(frames[1][0]) is None


# -- WebmWriter -----------------------------------------------------------------------------


def _write_av(
    writer: WebmWriter, seconds: float, *, video_from: int = 0, audio_start: int = 0
) -> None:
    """Interleave ``seconds`` of 30 fps video and 50 packets/s audio, as they arrive."""
    video = vp8_frames(int(seconds * 30))
    audio = opus_packets(int(seconds * 50))
    events: list[tuple[float, str, int]] = [(i / 30, "video", i) for i in range(len(video))]
    events += [(i / 50, "audio", i) for i in range(len(audio))]
    for _, kind, i in sorted(events):
        if kind == "video" and i >= video_from:
            data, key = video[i]
            writer.write("video", data, 90_000 + i * 3000, key)
        elif kind == "audio":
            writer.write("audio", audio[i], audio_start + i * 960, True)


def test_five_seconds_of_vp8_and_opus_make_a_webm_pyav_reads(tmp_path: Path) -> None:
    path = tmp_path / "r" / "rec.webm"
    writer = WebmWriter(path)
    _write_av(writer, 5.0, audio_start=48_000)  # both from 1 s
    result = writer.close()

    assert result.size_bytes == path.stat().st_size > 0
    assert result.video_packets == 150
    assert result.audio_packets == 250
    assert 4.9 <= result.duration_seconds <= 5.1
    with av.open(str(path)) as container:
        assert container.format.name.startswith("matroska")
        kinds = {s.type: s.codec_context.name for s in container.streams}
        assert kinds == {"video": "vp8", "audio": "opus"}
        assert container.duration is not None
        assert 4.9 <= container.duration / av.time_base <= 5.1
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (WIDTH, HEIGHT)
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == 150
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(audio=0)) >= 240
    print(f"\nremux: {result.micros_per_packet:.0f} µs/packet over {result.packets} packets")


def test_video_waits_for_a_keyframe_and_audio_waits_for_the_header(tmp_path: Path) -> None:
    writer = WebmWriter(tmp_path / "k.webm")
    _write_av(writer, 2.0, video_from=5)  # joined mid-GOP: frames 5..29 are undecodable
    result = writer.close()
    assert result.video_packets == 60 - 30  # from the keyframe at frame 30 on
    assert result.audio_packets == 100  # the buffered audio before it is kept
    with av.open(str(result.path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 30
    with av.open(str(result.path)) as container:
        first_audio = next(container.demux(audio=0))
        assert first_audio.pts == 0  # the file starts at its earliest frame


def test_late_audio_is_dropped_and_stuck_video_moves_forward(tmp_path: Path) -> None:
    writer = WebmWriter(tmp_path / "late.webm")
    (key, _), (delta, _) = vp8_frames(2)
    audio = opus_packets(3)
    writer.write("video", key, 0, True)
    writer.write("audio", audio[0], 4800, True)
    writer.write("audio", audio[1], 3840, True)  # older than what was written
    writer.write("video", delta, 0, False)  # same time as the keyframe
    result = writer.close()
    assert result.late_dropped == 1
    assert (result.video_packets, result.audio_packets) == (2, 1)
    with av.open(str(result.path)) as container:
        pts = [p.pts for p in container.demux(video=0) if p.size]
    assert pts == [0, 1]


def test_audio_only_recordings_start_after_header_wait(tmp_path: Path) -> None:
    writer = WebmWriter(tmp_path / "a.webm", header_wait=0.5)
    for i, packet in enumerate(opus_packets(50)):
        writer.write("audio", packet, i * 960, True)
        assert writer.started == (i * 960 >= 0.5 * OPUS_CLOCK)
    result = writer.close()
    assert result.audio_packets == 50
    assert 0.95 <= result.duration_seconds <= 1.05
    with av.open(str(result.path)) as container:
        assert sum(1 for _ in container.decode(audio=0)) >= 45


def test_an_empty_recording_leaves_no_file(tmp_path: Path) -> None:
    writer = WebmWriter(tmp_path / "empty.webm")
    (_, _), (delta, _) = vp8_frames(2)
    writer.write("video", delta, 0, False)
    result = writer.close()
    assert result.empty
    assert not result.path.exists()
    with pytest.raises(RuntimeError):
        writer.write("audio", b"x", 0, True)
