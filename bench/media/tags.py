"""Frames tagged at the publisher, so loss and delay are counted end to end, per frame.

The bench's publisher appends a 16-byte tag to every encoded frame it sends (VP8 frames and
Opus packets alike): a magic, the frame's index in its track (0, 1, 2, ... in sending order)
and the sending time (``time.monotonic_ns()``, one clock for every process on the machine).
An SFU forwards the bytes unchanged (it never decodes), so the tag ends the last RTP packet
of the frame at the subscriber, whatever the SFU did to the packetization in between.

A subscriber counts a frame as received only when the frame is *complete*: every RTP packet
from the one that starts it (VP8: S bit on partition 0) to the one that ends it (the marker
bit) arrived, with consecutive sequence numbers; an Opus frame is one packet. Frames the SFU
dropped (a queue overflow, a stalled loop, a subscriber held until a keyframe) thus count as
lost, which sequence gaps in the SFU's own output cannot show: an SFU that re-packetizes
numbers its output without gaps.

:class:`FrameTally` keeps, per track, the indices received and the delay of each; the
orchestrator asks for the frames of a window (the publisher's index range) once they have
had time to arrive.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

from bench.stats import percentile_of_sorted

__all__ = ["TAG_SIZE", "FrameTally", "read_tag", "tag"]

_MAGIC = b"LCf1"
_TAG = struct.Struct("!4sIQ")
TAG_SIZE = _TAG.size


def tag(data: bytes, index: int, sent_ns: int | None = None) -> bytes:
    """``data`` with the tag of frame ``index`` sent now (or at ``sent_ns``) appended."""
    stamp = time.monotonic_ns() if sent_ns is None else sent_ns
    return data + _TAG.pack(_MAGIC, index & 0xFFFFFFFF, stamp)


def read_tag(payload: bytes) -> tuple[int, int] | None:
    """(frame index, sending time ns) from the end of a frame's last packet, or None."""
    if len(payload) < TAG_SIZE:
        return None
    magic, index, sent_ns = _TAG.unpack_from(payload, len(payload) - TAG_SIZE)
    if magic != _MAGIC:
        return None
    return index, sent_ns


@dataclass(slots=True)
class FrameTally:
    """The complete frames of one track a subscriber received: index -> delay (ms)."""

    delays: dict[int, float] = field(default_factory=dict)

    def add(self, payload: bytes, arrived_ns: int) -> None:
        found = read_tag(payload)
        if found is not None:
            index, sent_ns = found
            self.delays.setdefault(index, (arrived_ns - sent_ns) / 1e6)

    def window(self, first: int, end: int) -> dict[str, float | int | None]:
        """Frames ``first`` <= index < ``end``: how many were sent, received, their delay."""
        delays = sorted(d for i, d in self.delays.items() if first <= i < end)
        expected = max(0, end - first)
        return {
            "expected": expected,
            "received": len(delays),
            "lost_pct": round(100.0 * (expected - len(delays)) / expected, 3) if expected else None,
            "delay_p50_ms": percentile_of_sorted(delays, 50),
            "delay_p95_ms": percentile_of_sorted(delays, 95),
            "delay_max_ms": round(delays[-1], 2) if delays else None,
        }
