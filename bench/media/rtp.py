"""Counting received RTP packets without reassembling or decoding anything.

One :class:`StreamCounter` per received SSRC: packets and bytes, the extended sequence
number range (so ``expected - received`` is the loss the receiver saw; the SFU sends without
gaps, so this is loss between its sender and our socket), video frames (RTP marker bits) and
the arrival of the first VP8 keyframe (from the RTP payload descriptor, RFC 7741: the start
of partition 0 whose VP8 payload header has P = 0), and the complete frames, by the tag the
bench's publisher put at their end (:mod:`bench.media.tags`): a video frame is complete when
every packet from its start (S bit, partition 0) to its marker arrived in sequence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.media.tags import TAG_SIZE, FrameTally

__all__ = ["StreamCounter", "is_vp8_keyframe_start", "vp8_descriptor_size"]


def vp8_descriptor_size(payload: bytes) -> int:
    """The length of a VP8 RTP payload descriptor (RFC 7741, section 4.2)."""
    if not payload or not payload[0] & 0x80:
        return 1
    if len(payload) < 2:
        return len(payload)
    ext = payload[1]
    size = 2
    if ext & 0x80:  # I: picture id, 7 or 15 bits
        size += 2 if size < len(payload) and payload[size] & 0x80 else 1
    if ext & 0x40:  # L: TL0PICIDX
        size += 1
    if ext & 0x30:  # T or K: TID/KEYIDX
        size += 1
    return min(size, len(payload))


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
    #: Complete tagged frames (shared by the SSRCs of one track).
    tally: FrameTally = field(default_factory=FrameTally)
    _frame_start: int | None = None  # extended sequence number of the frame being received
    _frame_packets: int = 0
    #: The frame's last bytes so far: a packetizer may split the tag over two packets.
    _frame_tail: bytes = b""

    def add(self, sequence_number: int, marker: int, payload: bytes, arrived_ns: int = 0) -> None:
        self.packets += 1
        self.octets += len(payload)
        if self.first_seq is None:
            self.first_seq = self.max_seq = sequence_number
            extended = sequence_number
        else:
            delta = (sequence_number - self.max_seq) & 0xFFFF
            if delta < 0x8000:
                self.max_seq += delta
                extended = self.max_seq
            else:  # late (reordered or retransmitted): not part of the frame in progress
                extended = self.max_seq - ((self.max_seq - sequence_number) & 0xFFFF)
        if self.kind != "video":
            self.tally.add(payload, arrived_ns)
            return
        if payload and payload[0] & 0x10 and not payload[0] & 0x07:  # starts a frame
            self._frame_start = extended
            self._frame_packets = 0
            self._frame_tail = b""
        self._frame_packets += 1
        self._frame_tail = (self._frame_tail + payload[vp8_descriptor_size(payload) :])[-TAG_SIZE:]
        if marker:
            self.frames += 1
            start = self._frame_start
            if start is not None and extended - start + 1 == self._frame_packets:
                self.tally.add(self._frame_tail, arrived_ns)
            self._frame_start = None
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
