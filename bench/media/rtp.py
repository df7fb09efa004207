"""Counting received RTP packets without reassembling or decoding anything.

One :class:`StreamCounter` per received SSRC: packets and bytes, the extended sequence
number range (so ``expected - received`` is the loss the receiver saw; the SFU sends without
gaps, so this is loss between its sender and our socket), video frames (RTP marker bits) and
the arrival of the first VP8 keyframe (from the RTP payload descriptor, RFC 7741: the start
of partition 0 whose VP8 payload header has P = 0).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["StreamCounter", "is_vp8_keyframe_start"]


def is_vp8_keyframe_start(payload: bytes) -> bool:
    """Whether this VP8 RTP payload starts a keyframe (the first packet of one)."""
    if len(payload) < 2:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:  # S bit, partition index 0
        return False
    i = 1
    if first & 0x80:  # X: extension byte
        ext = payload[1]
        i = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if i >= len(payload):
                return False
            i += 2 if payload[i] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            i += 1
        if ext & 0x30:  # T or K: TID/KEYIDX
            i += 1
    return i < len(payload) and payload[i] & 0x01 == 0


@dataclass(slots=True)
class StreamCounter:
    """What one SSRC delivered."""

    kind: str
    packets: int = 0
    octets: int = 0
    frames: int = 0  # packets with the marker bit: a video frame ends there
    keyframes: int = 0
    first_seq: int | None = None  # extended
    max_seq: int = 0  # extended
    first_keyframe_at: float | None = None  # time.monotonic()

    def add(self, sequence_number: int, marker: int, payload: bytes) -> None:
        self.packets += 1
        self.octets += len(payload)
        if self.first_seq is None:
            self.first_seq = self.max_seq = sequence_number
        else:
            delta = (sequence_number - self.max_seq) & 0xFFFF
            if delta < 0x8000:
                self.max_seq += delta
        if self.kind == "video":
            if marker:
                self.frames += 1
            if is_vp8_keyframe_start(payload):
                self.keyframes += 1
                if self.first_keyframe_at is None:
                    self.first_keyframe_at = time.monotonic()

    @property
    def expected(self) -> int:
        """Packets the sender sent from the first one we got to the newest one."""
        return 0 if self.first_seq is None else self.max_seq - self.first_seq + 1

    def snapshot(self) -> dict[str, int]:
        return {
            "packets": self.packets,
            "expected": self.expected,
            "bytes": self.octets,
            "frames": self.frames,
            "keyframes": self.keyframes,
        }
