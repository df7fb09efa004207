"""media/recorder.py without sockets: real TrackFanouts fed with real VP8/Opus frames, a room
that publishes and unpublishes tracks, and the WebM file read back with PyAV."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from media.fanout import MediaFrame, TrackFanout
from media.recorder import Recorder
from media.router import TrackWatcher
from media.sdp import CodecSpec
from media.sources import Source
from media.webm import WebmResult
from tests.media.encoded import opus_packets, vp8_frames

VP8 = CodecSpec("video", "video/vp8", 90000, None, ())
H264 = CodecSpec("video", "video/h264", 90000, None, (("packetization-mode", "1"),))
OPUS = CodecSpec("audio", "audio/opus", 48000, 2, ())


class FakeRoom:
    """A router's track list and watchers (what a Recorder needs of a room)."""

    def __init__(self) -> None:
        self._tracks: list[TrackFanout] = []
        self.watchers: list[TrackWatcher] = []
        self.keyframe_requests: asyncio.Queue[str] = asyncio.Queue()

    @property
    def tracks(self) -> list[TrackFanout]:
        return list(self._tracks)

    def watch(self, watcher: TrackWatcher) -> None:
        self.watchers.append(watcher)

    def unwatch(self, watcher: TrackWatcher) -> None:
        self.watchers.remove(watcher)

    def publish(self, track_id: str, codec: CodecSpec, source: Source = "camera") -> TrackFanout:
        async def pli() -> None:
            self.keyframe_requests.put_nowait(track_id)

        track = TrackFanout(
            track_id=track_id,
            publisher_id=track_id.split(":")[0],
            codec=codec,
            send_keyframe_request=pli,
            keyframe_interval=0,
            source=source,
        )
        self._tracks.append(track)
        for watcher in list(self.watchers):
            watcher.track_added(track)
        return track

    async def unpublish(self, track: TrackFanout) -> None:
        self._tracks.remove(track)
        track.end()
        for watcher in list(self.watchers):
            watcher.track_ended(track)
        await track.close()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed(
    clock: Clock,
    video: TrackFanout | None,
    audio: TrackFanout | None,
    seconds: float,
    *,
    video_ts: int = 0,
    audio_ts: int = 0,
    first_frame: int = 0,
) -> Iterator[None]:
    """Push ``seconds`` of frames in arrival order, advancing the clock; yields per frame."""
    frames = vp8_frames(int(seconds * 30) + first_frame)
    packets = opus_packets(int(seconds * 50))
    events = [(i / 30, 0, i) for i in range(int(seconds * 30))]
    events += [(i / 50, 1, i) for i in range(int(seconds * 50))]
    start = clock.now
    for at, kind, i in sorted(events):
        clock.now = start + at
        if kind == 0 and video is not None:
            data, key = frames[first_frame + i]
            video.push(MediaFrame(data, (video_ts + i * 3000) % (1 << 32), key))
        elif kind == 1 and audio is not None:
            audio.push(MediaFrame(packets[i], (audio_ts + i * 960) % (1 << 32), True))
        yield
    clock.now = start + seconds


def probe(result: WebmResult) -> tuple[dict[str, str], float, int]:
    with av.open(str(result.path)) as container:
        codecs: dict[str, str] = {s.type: s.codec_context.name for s in container.streams}
        duration = (container.duration or 0) / av.time_base
        frames = sum(1 for _ in container.decode(video=0))
    return codecs, duration, frames


@pytest.fixture
def room() -> FakeRoom:
    return FakeRoom()


async def test_records_the_published_tracks_into_one_webm(room: FakeRoom, tmp_path: Path) -> None:
    clock = Clock()
    video = room.publish("t:video:1", VP8)
    audio = room.publish("t:audio:2", OPUS)
    recorder = Recorder("r1", tmp_path / "r1.webm", clock=clock)
    recorder.attach(room)
    assert recorder.sources == {"video": "t:video:1", "audio": "t:audio:2"}
    assert await asyncio.wait_for(room.keyframe_requests.get(), 15) == "t:video:1"
    # RTP clocks start anywhere; audio's wraps around 2**32 mid-recording
    for _ in feed(clock, video, audio, 5.0, video_ts=1_234_567, audio_ts=(1 << 32) - 48_000):
        pass
    result = await recorder.stop()
    assert room.watchers == []
    assert video.taps == []
    assert audio.taps == []
    codecs, duration, frames = probe(result)
    assert codecs == {"video": "vp8", "audio": "opus"}
    assert 4.9 <= duration <= 5.1
    assert frames == 150
    assert result.audio_packets == 250
    await video.close()
    await audio.close()


async def test_video_is_held_until_a_keyframe_asking_the_publisher_again(
    room: FakeRoom, tmp_path: Path
) -> None:
    clock = Clock()
    recorder = Recorder("r2", tmp_path / "r2.webm", clock=clock)
    recorder.attach(room)
    video = room.publish("t:video:1", VP8)  # published after the recording started
    assert recorder.sources["video"] == "t:video:1"
    for _ in feed(clock, video, None, 1.5, first_frame=10):  # mid-GOP: keyframe at frame 30
        pass
    assert recorder.dropped == 20
    # asked for a keyframe (PLI) when the track appeared and while dropping delta frames
    assert await asyncio.wait_for(room.keyframe_requests.get(), 15) == "t:video:1"
    result = await recorder.stop()
    assert result.video_packets == 45 - 20
    assert probe(result)[2] == 25
    await video.close()


async def test_when_the_publisher_leaves_the_next_one_is_recorded_on_the_same_timeline(
    room: FakeRoom, tmp_path: Path
) -> None:
    clock = Clock()
    teacher_video = room.publish("t:video:1", VP8)
    recorder = Recorder("r3", tmp_path / "r3.webm", clock=clock)
    recorder.attach(room)
    h264 = room.publish("s:video:2", H264)  # not recordable in WebM: never picked
    student_video = room.publish("u:video:3", VP8)
    for _ in feed(clock, teacher_video, None, 1.0):
        pass
    await room.unpublish(teacher_video)
    assert recorder.sources["video"] == "u:video:3"
    clock.now += 1.0  # a second without video
    for _ in feed(clock, student_video, None, 1.0, video_ts=999):
        pass
    result = await recorder.stop()
    _, duration, frames = probe(result)
    assert frames == 60
    assert 2.9 <= duration <= 3.1  # 1 s, the gap, 1 s
    await h264.close()
    await student_video.close()


async def test_a_shared_screen_is_recorded_while_it_is_shared(
    room: FakeRoom, tmp_path: Path
) -> None:
    """The teacher shares her screen mid-class: the recording shows the screen (its sound
    does not replace her microphone), and her camera again once she stops sharing."""
    clock = Clock()
    camera = room.publish("t:video:1", VP8)
    microphone = room.publish("t:audio:2", OPUS)
    recorder = Recorder("r6", tmp_path / "r6.webm", clock=clock)
    recorder.attach(room)
    for _ in feed(clock, camera, microphone, 1.0):
        pass
    screen = room.publish("t:screen-video:3", VP8, source="screen")
    screen_sound = room.publish("t:screen-audio:4", OPUS, source="screen")
    assert recorder.sources == {"video": "t:screen-video:3", "audio": "t:audio:2"}
    for _ in feed(clock, screen, microphone, 1.0, video_ts=5000):
        pass
    await room.unpublish(screen)
    assert recorder.sources["video"] == "t:video:1"
    await room.unpublish(microphone)  # her microphone goes: the screen's sound is all there is
    assert recorder.sources["audio"] == "t:screen-audio:4"
    for _ in feed(clock, camera, None, 1.0, video_ts=90_000, first_frame=30):
        pass
    result = await recorder.stop()
    assert result.video_packets == 90  # camera, screen, camera: each from a keyframe
    await camera.close()
    await screen_sound.close()


async def test_a_recording_without_media_is_empty(room: FakeRoom, tmp_path: Path) -> None:
    recorder = Recorder("r4", tmp_path / "r4.webm")
    recorder.attach(room)
    result = await recorder.stop()
    assert result.empty
    assert not (tmp_path / "r4.webm").exists()


async def test_a_write_error_stops_recording_and_stop_raises_it(
    room: FakeRoom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    video = room.publish("t:video:1", VP8)
    recorder = Recorder("r5", tmp_path / "r5.webm", clock=clock)
    recorder.attach(room)
    key, _ = vp8_frames(1)[0]
    video.push(MediaFrame(key, 0, True))

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder._writer, "write", disk_full)
    video.push(MediaFrame(key, 3000, True))
    assert isinstance(recorder.error, OSError)
    assert video.taps == []
    with pytest.raises(OSError, match="No space"):
        await recorder.stop()
    await video.close()
