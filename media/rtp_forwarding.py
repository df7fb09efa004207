"""Forwarding at the RTP level: one subscriber m-line's view of a published stream.

The publisher's RTP packets (SRTP already removed by its connection) are forwarded as they
arrive, each one rewritten for the subscriber's stream and sent (see
:class:`media.aiortc_outlet.RtpOutlet` for the sending): no frame is reassembled and nothing
is re-packetized per subscriber, and the publisher side's jitter buffer (which still
reassembles frames for the recorder) is not in the path. This module is the rewriting, and
does no I/O:

- **Sequence numbers** continue the subscriber's own sequence without a gap across holds and
  source switches: when forwarding (re)starts, the offset is chosen so the first packet
  follows the last one sent. Gaps the publisher's stream has stay gaps (the subscriber's
  NACK then finds them missing; a retransmission that reaches us later fills them, since it
  maps to the same number). Packets older than the restart point are dropped.
- **Timestamps** keep their offset while the source stays the same (a hold keeps the pace),
  and are rebased on a new source to start one frame after the last one sent.
- **VP8 picture ids** are shifted on a new source to continue the last one sent (only then is
  the payload copied; a subscriber with one source gets the publisher's bytes untouched).

Keyframe starts are recognised from the payload (:func:`is_keyframe_start`): VP8's S bit on
partition 0 with the P bit clear; H.264's IDR or SPS, single, aggregated (STAP-A) or the
first fragment (FU-A). Audio packets all count as starts.
"""

from __future__ import annotations

import random
from typing import Protocol

__all__ = ["PacketOutlet", "RtpRewriter", "is_keyframe_start"]


class PacketOutlet(Protocol):
    """Where one subscriber stream's rewritten packets go (:class:`~media.aiortc_outlet.RtpOutlet`
    over a real connection)."""

    def send(self, seq: int, ts: int, marker: int, payload: bytes, ntp: int) -> None: ...


#: The timestamp step inserted between two sources of one subscriber stream (one frame).
_SWITCH_STEP = {"video": 90000 // 30, "audio": 960}
_H264_KEY_NALS = frozenset((5, 7))


def _vp8_keyframe_start(payload: bytes) -> bool:
    if len(payload) < 2:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:  # S bit, partition 0
        return False
    i = 1
    if first & 0x80:
        ext = payload[1]
        i = 2
        if ext & 0x80:
            if i >= len(payload):
                return False
            i += 2 if payload[i] & 0x80 else 1
        if ext & 0x40:
            i += 1
        if ext & 0x30:
            i += 1
    return i < len(payload) and payload[i] & 0x01 == 0


def _h264_keyframe_start(payload: bytes) -> bool:
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in _H264_KEY_NALS:
        return True
    if nal == 24:  # STAP-A: 2-byte sizes, then NAL units
        i = 1
        while i + 2 < len(payload):
            size = (payload[i] << 8) | payload[i + 1]
            if payload[i + 2] & 0x1F in _H264_KEY_NALS:
                return True
            i += 2 + size
        return False
    if nal == 28 and len(payload) > 1:  # FU-A: the start bit and the fragmented NAL's type
        return bool(payload[1] & 0x80) and payload[1] & 0x1F in _H264_KEY_NALS
    return False


def is_keyframe_start(mime_type: str, payload: bytes) -> bool:
    """Whether this RTP payload is the first packet of a keyframe (audio: always)."""
    if mime_type == "video/vp8":
        return _vp8_keyframe_start(payload)
    if mime_type == "video/h264":
        return _h264_keyframe_start(payload)
    return mime_type.startswith("audio/")


def _vp8_picture_id(payload: bytes) -> tuple[int, int] | None:
    """(picture id, modulus) of a VP8 payload descriptor that carries one."""
    if len(payload) < 4 or not payload[0] & 0x80 or not payload[1] & 0x80:
        return None
    if payload[2] & 0x80:
        return ((payload[2] & 0x7F) << 8) | payload[3], 0x8000
    return payload[2] & 0x7F, 0x80


class RtpRewriter:
    """The sequence number, timestamp and picture id mapping of one subscriber stream.

    Call :meth:`restart` when forwarding (re)starts (after a hold) and :meth:`new_source`
    when the stream switches to another published track; then :meth:`map` every packet.
    """

    def __init__(self, kind: str, *, vp8: bool) -> None:
        self._step = _SWITCH_STEP.get(kind, 1)
        self._vp8 = vp8
        self.last_seq = random.randrange(1 << 16)
        self.last_ts = random.randrange(1 << 32)
        self._seq_offset = 0
        self._ts_offset = 0
        self._pid_offset = 0
        self._last_payload = b""  # the newest packet sent: its picture id, on a new source
        self._started = False
        self._rebase = True
        self._restart_seq = 0

    def new_source(self) -> None:
        """The next packet comes from another track: rebase timestamps and picture ids."""
        self._rebase = True
        self._started = False

    def restart(self) -> None:
        """Forwarding stopped for a while (a hold): the next packet continues the numbering."""
        self._started = False

    def map(self, seq: int, ts: int, payload: bytes) -> tuple[int, int, bytes] | None:
        """(sequence number, timestamp, payload) to send for a source packet, or None for a
        packet from before the point forwarding (re)started."""
        if not self._started:
            self._started = True
            self._restart_seq = seq
            self._seq_offset = (self.last_seq + 1 - seq) & 0xFFFF
            if self._rebase:
                self._rebase = False
                self._ts_offset = (self.last_ts + self._step - ts) & 0xFFFFFFFF
                self._pid_offset = 0
                last = _vp8_picture_id(self._last_payload) if self._vp8 else None
                found = _vp8_picture_id(payload) if last is not None else None
                if last is not None and found is not None:
                    self._pid_offset = (last[0] + 1 - found[0]) % found[1]
        elif (seq - self._restart_seq) & 0xFFFF >= 0x8000:
            return None
        out_seq = (seq + self._seq_offset) & 0xFFFF
        out_ts = (ts + self._ts_offset) & 0xFFFFFFFF
        if self._pid_offset:
            payload = self._shift_picture_id(payload)
        if (out_seq - self.last_seq) & 0xFFFF < 0x8000:
            self.last_seq = out_seq
            self.last_ts = out_ts
            self._last_payload = payload
        return out_seq, out_ts, payload

    def _shift_picture_id(self, payload: bytes) -> bytes:
        found = _vp8_picture_id(payload)
        if found is None:
            return payload
        pid, modulus = found
        pid = (pid + self._pid_offset) % modulus
        copy = bytearray(payload)
        if modulus == 0x8000:
            copy[2] = 0x80 | (pid >> 8)
            copy[3] = pid & 0xFF
        else:
            copy[2] = pid
        return bytes(copy)
