"""Remuxing forwarded VP8 + Opus frames into a WebM file, without decoding or re-encoding.

The recorder hands over what the SFU forwards: whole encoded frames (a VP8 frame, one Opus
packet) with their RTP timestamps. Two pieces turn them into a file:

- :class:`TrackTimeline` maps one track's 32-bit RTP timestamps onto the recording's
  timeline: it unwraps them (they wrap every ~13 h at 90 kHz, ~25 h at 48 kHz, and start
  anywhere) and anchors the track's first frame at its arrival time since the recording
  started, which is the only clock audio and video share without RTCP sender reports. A
  source switch (another publisher) or a jump of more than ``max_gap`` seconds re-anchors.
- :class:`WebmWriter` owns the PyAV container with one VP8 and one Opus stream, declared
  before the first packet. Each frame becomes an ``av.Packet`` with its pts (rescaled from
  the track's clock to Matroska's milliseconds, the file starting at 0) and keyframe flag,
  muxed as is. The header is written once the first VP8 keyframe gives the picture size
  (its frame header holds it); audio arriving before is buffered (at most ``header_wait``
  seconds, then the header is written with a default size). Per stream, timestamps must
  grow: a late audio packet (at or before the last one written) is dropped and counted; a
  video frame that would not advance is moved one millisecond past the last one.
  :meth:`WebmWriter.close` writes the trailer (duration, cues) and returns what was written.

Muxing costs tens of microseconds per packet (``mux_seconds``/``packets``; see the README's
recording section); it runs on the caller's thread and never blocks on the network.
"""

from __future__ import annotations

import fractions
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import av
from av.packet import Packet

from media.bitstream import is_keyframe

__all__ = [
    "OPUS_CLOCK",
    "VP8_CLOCK",
    "TrackTimeline",
    "WebmResult",
    "WebmWriter",
    "vp8_size",
]

Kind = Literal["audio", "video"]

VP8_CLOCK = 90_000
OPUS_CLOCK = 48_000
_CLOCKS: dict[str, int] = {"video": VP8_CLOCK, "audio": OPUS_CLOCK}
_WRAP = 1 << 32
_HALF = 1 << 31
_MS = fractions.Fraction(1, 1000)
#: WebRTC Opus frames are 20 ms (the last one's length counts in the duration).
_OPUS_FRAME_MS = 20

#: OpusHead (RFC 7845 5.1): version 1, 2 channels, 312 samples pre-skip (what libopus and
#: browsers use), 48 kHz, 0 dB gain, mapping family 0. WebM's Opus track needs it as
#: CodecPrivate; WebRTC Opus is always signalled as 2 channels at 48 kHz.
OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, OPUS_CLOCK, 0, 0)


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a VP8 keyframe's header (RFC 6386 9.1), None for other frames."""
    if not is_keyframe("video/vp8", data):
        return None
    width, height = struct.unpack_from("<HH", data, 6)
    return width & 0x3FFF, height & 0x3FFF


class TrackTimeline:
    """One track's RTP timestamps → pts on the recording's timeline (in the track's clock).

    ``pts(rtp_timestamp, arrival)`` with ``arrival`` in seconds since the recording started.
    """

    def __init__(self, clock_rate: int, *, max_gap: float = 10.0) -> None:
        self.clock_rate = clock_rate
        self._max_gap = int(max_gap * clock_rate)
        self._last_rtp: int | None = None
        self._extended = 0
        self._offset = 0
        self._floor = 0
        self.anchors = 0

    def rebase(self) -> None:
        """The next frame comes from another source: anchor it at its arrival time."""
        self._last_rtp = None

    def pts(self, rtp_timestamp: int, arrival: float) -> int:
        rtp_timestamp %= _WRAP
        if self._last_rtp is not None:
            delta = (rtp_timestamp - self._last_rtp) % _WRAP
            if delta >= _HALF:
                delta -= _WRAP  # a reordered (older) frame, not a wrap
            if abs(delta) <= self._max_gap:
                self._last_rtp = rtp_timestamp
                self._extended += delta
                return self._extended + self._offset
        # first frame, a new source, or the publisher restarted its RTP clock
        self.anchors += 1
        self._last_rtp = rtp_timestamp
        self._extended = 0
        self._offset = max(round(arrival * self.clock_rate), self._floor)
        return self._offset

    def note_written(self, pts: int) -> None:
        """A re-anchored source never goes back before what was written."""
        self._floor = max(self._floor, pts + 1)


@dataclass(frozen=True, slots=True)
class WebmResult:
    """What :meth:`WebmWriter.close` wrote."""

    path: Path
    size_bytes: int
    duration_seconds: float
    video_packets: int
    audio_packets: int
    late_dropped: int
    mux_seconds: float

    @property
    def packets(self) -> int:
        return self.video_packets + self.audio_packets

    @property
    def empty(self) -> bool:
        return self.packets == 0

    @property
    def micros_per_packet(self) -> float:
        return self.mux_seconds / self.packets * 1e6 if self.packets else 0.0


class WebmWriter:
    """One WebM file being written. Not thread-safe; ``close()`` exactly once (any thread).

    ``write(kind, data, pts, keyframe)``: ``pts`` in the track's clock (90 kHz video, 48 kHz
    audio), from a :class:`TrackTimeline`. Video must start with a keyframe (the recorder
    holds until one arrives).
    """

    def __init__(
        self,
        path: Path,
        *,
        default_size: tuple[int, int] = (640, 480),
        header_wait: float = 3.0,
    ) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container: Any = av.open(str(path), mode="w", format="webm")
        self._video: Any = self._container.add_stream("libvpx", rate=30)
        self._audio: Any = self._container.add_stream("libopus", rate=OPUS_CLOCK)
        self._audio.codec_context.extradata = OPUS_HEAD
        self._video.width, self._video.height = default_size
        self._header_wait = int(header_wait * OPUS_CLOCK)
        self._started = False
        self._pending: list[tuple[Kind, bytes, int, bool]] = []
        self._last_ms: dict[str, int] = {}
        self._base_ms = 0
        self._end_ms = 0
        self.video_packets = 0
        self.audio_packets = 0
        self.late_dropped = 0
        self.mux_seconds = 0.0
        self._closed = False

    @property
    def duration(self) -> float:
        """Seconds of media written so far."""
        return self._end_ms / 1000 if self._started else 0.0

    @property
    def started(self) -> bool:
        """The header is written (a first video keyframe came, or audio waited long enough)."""
        return self._started

    def write(self, kind: Kind, data: bytes, pts: int, keyframe: bool) -> None:
        if self._closed:
            raise RuntimeError("the WebM writer is closed")
        if self._started:
            self._mux(kind, data, pts, keyframe)
            return
        if kind == "video":
            size = vp8_size(data) if keyframe else None
            if size is None:
                return  # video before its first keyframe cannot be decoded
            self._video.width, self._video.height = size
        else:
            self._pending.append((kind, data, pts, keyframe))
            if pts - self._pending[0][2] < self._header_wait:
                return
        self._start([] if kind == "audio" else [(kind, data, pts, keyframe)])

    def _start(self, current: list[tuple[Kind, bytes, int, bool]]) -> None:
        """Write the header: the file's time 0 is its earliest frame."""
        self._started = True
        items, self._pending = self._pending + current, []
        self._base_ms = min(pts * 1000 // _CLOCKS[kind] for kind, _, pts, _ in items)
        for item in items:
            self._mux(*item)

    def _mux(self, kind: Kind, data: bytes, pts: int, keyframe: bool) -> None:
        started = time.perf_counter()
        clock = _CLOCKS[kind]
        ms = pts * 1000 // clock - self._base_ms
        last = self._last_ms.get(kind, -1)
        if ms <= last:
            if kind == "audio":
                self.late_dropped += 1
                return
            ms = last + 1  # video must advance; the frame stays (later ones depend on it)
        packet = Packet(data)
        packet.pts = packet.dts = ms
        packet.time_base = _MS
        if kind == "video":
            packet.stream = self._video
            packet.is_keyframe = keyframe
            self.video_packets += 1
        else:
            packet.stream = self._audio
            packet.is_keyframe = True
            self.audio_packets += 1
        self._container.mux(packet)
        self._last_ms[kind] = ms
        self._end_ms = max(self._end_ms, ms + (_OPUS_FRAME_MS if kind == "audio" else 0))
        self.mux_seconds += time.perf_counter() - started

    def close(self) -> WebmResult:
        """Write the trailer (duration, cues) and close the file. An empty recording (nothing
        was ever written) leaves no file behind."""
        if self._closed:
            raise RuntimeError("the WebM writer is already closed")
        self._closed = True
        if not self._started and self._pending:
            self._start([])  # audio only, shorter than header_wait
        self._container.close()
        if not self._started:
            self.path.unlink(missing_ok=True)
            size = 0
        else:
            size = self.path.stat().st_size
        duration = self._end_ms / 1000 if self._started else 0.0
        return WebmResult(
            path=self.path,
            size_bytes=size,
            duration_seconds=duration,
            video_packets=self.video_packets,
            audio_packets=self.audio_packets,
            late_dropped=self.late_dropped,
            mux_seconds=self.mux_seconds,
        )
