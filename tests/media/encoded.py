"""Real encoded media for tests that need no peers: VP8 frames and Opus packets produced by
PyAV's libvpx and libopus encoders (what a browser would send, already depacketized)."""

from __future__ import annotations

import fractions
import functools

import av
import numpy as np

WIDTH, HEIGHT = 320, 240


@functools.cache
def vp8_frames(count: int, *, keyframe_every: int = 30) -> tuple[tuple[bytes, bool], ...]:
    """``count`` VP8 frames of a moving bar (30 fps): (bitstream, is keyframe)."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height = WIDTH, HEIGHT
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    encoder.framerate = fractions.Fraction(30)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    frames: list[tuple[bytes, bool]] = []
    for i in range(count):
        planes = np.full((HEIGHT * 3 // 2, WIDTH), 128, dtype=np.uint8)
        planes[:HEIGHT, :] = 16
        x = (i * 4) % (WIDTH - 16)
        planes[:HEIGHT, x : x + 16] = 235
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts = i
        frame.time_base = fractions.Fraction(1, 30)
        if i % keyframe_every == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in encoder.encode(frame):
            frames.append((bytes(packet), bool(packet.is_keyframe)))
    for packet in encoder.encode(None):
        frames.append((bytes(packet), bool(packet.is_keyframe)))
    return tuple(frames[:count])


@functools.cache
def opus_packets(count: int) -> tuple[bytes, ...]:
    """``count`` Opus packets of 20 ms (48 kHz stereo silence with a tone)."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48000
    encoder.layout = "stereo"
    encoder.format = "s16"
    packets: list[bytes] = []
    t = np.arange(960) / 48000
    for i in range(count + 10):
        tone = (np.sin(2 * np.pi * 440 * (t + i * 0.02)) * 8000).astype(np.int16)
        samples = np.repeat(tone, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = i * 960
        packets.extend(bytes(p) for p in encoder.encode(frame))
    return tuple(packets[:count])
