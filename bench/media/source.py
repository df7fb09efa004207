"""The publisher's media: generated VP8 video at a set bitrate, and an Opus tone.

:class:`EncodedVideoTrack` encodes with libvpx itself (PyAV, aiortc's own real-time settings,
constant bitrate) and yields ``av.Packet``\\ s, so the aiortc sender only packetizes them and
the bitrate is the one asked for (aiortc's own encoder starts at 500 kbps and follows REMB).
Keyframes come only when the SFU asks (PLI; :meth:`EncodedVideoTrack.request_keyframe`),
like a browser's. The picture is a textured pattern that moves every frame, so the encoder
has to spend its bits. :class:`ToneAudioTrack` yields 20 ms Opus packets of a tone (encoded
once, at start, with libopus and sent in a loop; nobody downstream decodes them).

Every frame of both carries the bench's tag (:mod:`bench.media.tags`): its index and the
time it was handed to the sender, so subscribers count loss and delay per frame.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame
from av.packet import Packet
from av.video.frame import PictureType

from bench.media.tags import tag

__all__ = ["EncodedVideoTrack", "ToneAudioTrack"]

VIDEO_CLOCK = 90000
_PATTERN_FRAMES = 30


def _pattern(width: int, height: int, count: int, seed: int = 7) -> list[np.ndarray[Any, Any]]:
    """``count`` yuv420p planes of a smooth random texture sliding right and down."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(16, 235, size=(height // 8 + 2, width // 8 + 2), dtype=np.uint8)
    texture = np.kron(coarse, np.ones((8, 8), dtype=np.uint8))
    fine = rng.integers(0, 24, size=texture.shape, dtype=np.uint8)
    texture = texture + fine
    frames = []
    for i in range(count):
        luma = np.roll(texture, (i * 2, i * 3), axis=(0, 1))[:height, :width]
        chroma = np.full((height // 2, width), 128, dtype=np.uint8)
        chroma[:, (i * 5) % width :] = 100
        frames.append(np.vstack([luma, chroma]))
    return frames


class EncodedVideoTrack(MediaStreamTrack):
    """VP8 at ``kbps`` (CBR), ``width`` x ``height`` at ``fps``, paced in real time."""

    kind = "video"

    def __init__(self, *, width: int, height: int, fps: int, kbps: int) -> None:
        super().__init__()
        self._fps = fps
        self._step = VIDEO_CLOCK // fps
        self._time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._frames = [
            VideoFrame.from_ndarray(planes, format="yuv420p")
            for planes in _pattern(width, height, _PATTERN_FRAMES)
        ]
        bitrate = kbps * 1000
        codec: Any = av.CodecContext.create("libvpx", "w")
        codec.width = width
        codec.height = height
        codec.bit_rate = bitrate
        codec.pix_fmt = "yuv420p"
        codec.time_base = fractions.Fraction(1, fps)
        codec.gop_size = 3000
        codec.qmin = 2
        codec.qmax = 56
        codec.options = {
            "bufsize": str(bitrate),
            "cpu-used": "-6",
            "deadline": "realtime",
            "lag-in-frames": "0",
            "minrate": str(bitrate),
            "maxrate": str(bitrate),
            "noise-sensitivity": "4",
            "overshoot-pct": "15",
            "partitions": "0",
            "static-thresh": "1",
            "undershoot-pct": "100",
        }
        codec.thread_count = 1
        self._codec = codec
        self._index = 0
        self._start: float | None = None
        self._force_keyframe = True
        self.frames_sent = 0
        self.keyframes_sent = 0
        self.bytes_sent = 0
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        """The SFU sent PLI/FIR: the next frame is a keyframe."""
        self.keyframe_requests += 1
        self._force_keyframe = True

    async def recv(self) -> Packet[Any]:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._start is None:
                self._start = time.monotonic()
            else:
                due = self._start + self._index / self._fps
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            frame = self._frames[self._index % len(self._frames)]
            pts = self._index * self._step
            self._index += 1
            frame.pts = self._index
            frame.time_base = fractions.Fraction(1, self._fps)
            keyframe = self._force_keyframe
            frame.pict_type = PictureType.I if keyframe else PictureType.NONE
            self._force_keyframe = False
            data = b"".join(bytes(p) for p in self._codec.encode(frame))
            if not data:
                continue  # the rate control dropped this frame
            if data[0] & 0x01 == 0:
                self.keyframes_sent += 1
            data = tag(data, self.frames_sent)
            self.frames_sent += 1
            self.bytes_sent += len(data)
            packet = Packet(data)
            packet.pts = pts
            packet.time_base = self._time_base
            return packet


class ToneAudioTrack(MediaStreamTrack):
    """A 440 Hz tone as 20 ms mono Opus packets at 48 kHz, paced in real time."""

    kind = "audio"
    RATE = 48000
    SAMPLES = 960

    def __init__(self) -> None:
        super().__init__()
        t = np.arange(self.SAMPLES * 50) / self.RATE
        tone = (np.sin(2 * math.pi * 440 * t) * 6000).astype(np.int16)
        codec: Any = av.CodecContext.create("libopus", "w")
        codec.sample_rate = self.RATE
        codec.layout = "mono"
        codec.format = "s16"
        codec.bit_rate = 32000
        codec.time_base = fractions.Fraction(1, self.RATE)
        encoded: list[bytes] = []
        for i in range(0, len(tone), self.SAMPLES):
            frame = AudioFrame.from_ndarray(
                tone[i : i + self.SAMPLES].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = self.RATE
            frame.pts = i
            encoded += [bytes(p) for p in codec.encode(frame)]
        self._packets = [p for p in encoded if p] or [b"\xf8\xff\xfe"]
        self._time_base = fractions.Fraction(1, self.RATE)
        self._start: float | None = None
        self._pts = 0
        self.frames_sent = 0

    async def recv(self) -> Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += self.SAMPLES
            due = self._start + self._pts / self.RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        data = self._packets[self.frames_sent % len(self._packets)]
        packet = Packet(tag(data, self.frames_sent))
        packet.pts = self._pts
        packet.time_base = self._time_base
        self.frames_sent += 1
        return packet
