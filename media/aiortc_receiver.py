"""The publisher's end of forwarding: hooks on aiortc's ``RTCRtpReceiver`` (private
internals, pinned with :mod:`media.aiortc_hooks`, checked by ``tests/media/test_aiortc_hooks.py``).

- **Receiver decode path** (:func:`tap_receiver`). ``RTCRtpReceiver`` reassembles encoded
  frames in its jitter buffer, then ``put``\\ s ``(codec, JitterFrame)`` on its private
  ``__decoder_queue``, read by a decoder thread. Before ``receive()`` starts that thread we
  swap the queue for a :class:`FrameTap`: frames go to our callback on the event loop, the
  thread blocks in ``get()`` until the receiver stops, and no decoder is ever created.
- **Receiver packet path** (:func:`count_rtp`, for load generators such as the media bench):
  ``RTCRtpReceiver._handle_rtp_packet`` is replaced per instance by a callback that sees
  every RTP packet (already SRTP-decrypted and parsed) and nothing else runs: no jitter
  buffer, no NACK, no decoder queue.
- **Receiver RTP tap** (:func:`tap_rtp`, the forwarding path): ``_handle_rtp_packet`` is
  wrapped per instance; every RTP packet (RTX unwrapped) goes to our callback first, then
  to aiortc's own handling (statistics and receiver reports, NACKs to the publisher, REMB,
  and the jitter buffer that reassembles frames for the recorder).
- **Receiver audio levels** (:func:`on_audio_level`): the same per-instance method, wrapped
  to read each packet's RFC 6464 level before it goes its usual way (active speakers).
- **Receiver PLI** (:func:`request_keyframe`): ``_send_rtcp_pli`` for the SSRCs seen.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.rtp import RtpPacket, unwrap_rtx

from media.aiortc_hooks import AiortcIncompatible

__all__ = [
    "FrameCallback",
    "FrameTap",
    "PacketCallback",
    "RtpCallback",
    "count_rtp",
    "decoder_thread",
    "on_audio_level",
    "request_keyframe",
    "tap_receiver",
    "tap_rtp",
]

log = logging.getLogger("liveclass.media.hooks")

# Name-mangled private attributes (``self.__x`` inside class C is ``_C__x``).
_RX_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RX_DECODER_THREAD = "_RTCRtpReceiver__decoder_thread"
_RX_STARTED = "_RTCRtpReceiver__started"
_RX_REMOTE_STREAMS = "_RTCRtpReceiver__remote_streams"
_RX_RTX_SSRC = "_RTCRtpReceiver__rtx_ssrc"
_RX_CODECS = "_RTCRtpReceiver__codecs"


# -- Receiver: encoded frames instead of decoded ones -------------------------------------

#: ``on_frame(mime_type, clock_rate, data, timestamp)``: one reassembled encoded frame;
#: ``timestamp`` counts from 0 at the stream's first frame, in the codec's clock.
FrameCallback = Callable[[str, int, bytes, int], None]


class FrameTap:
    """Stands in for an ``RTCRtpReceiver``'s decoder queue (a ``queue.Queue``).

    ``put`` is called on the event loop by ``_handle_rtp_packet`` (a frame) and by the
    receiver's ``__stop_decoder`` (``None``: the receiver stopped). ``get`` is called by the
    receiver's decoder thread: it blocks until the receiver stops and then returns ``None``,
    so the thread ends without ever creating a decoder. Callback errors are logged, never
    raised into aiortc's packet path.
    """

    def __init__(self, on_frame: FrameCallback, on_end: Callable[[], None]) -> None:
        self._on_frame = on_frame
        self._on_end = on_end
        self._stopped = threading.Event()
        self.frames = 0
        self.decoded = 0  # frames handed to a decoder: must stay 0

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def put(self, item: tuple[Any, Any] | None) -> None:
        if item is None:
            if not self._stopped.is_set():
                self._stopped.set()
                try:
                    self._on_end()
                except Exception:
                    log.exception("frame tap end callback failed")
            return
        codec, frame = item
        self.frames += 1
        try:
            self._on_frame(codec.mimeType, codec.clockRate, frame.data, frame.timestamp)
        except Exception:
            log.exception("frame tap callback failed")

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        self._stopped.wait(timeout if block else 0)
        return None


def tap_receiver(
    receiver: RTCRtpReceiver, on_frame: FrameCallback, on_end: Callable[[], None]
) -> FrameTap:
    """Route ``receiver``'s encoded frames to ``on_frame`` instead of a decoder.

    Must run before ``receive()`` (which the peer connection calls once DTLS is up): right
    after ``addTransceiver``, or in the ``track`` event. ``on_end`` runs once, when the
    receiver stops (connection closed, RTCP BYE, transport lost).
    """
    if getattr(receiver, _RX_STARTED, None) is not False:
        raise AiortcIncompatible("the receiver has started, or aiortc changed its layout")
    current = getattr(receiver, _RX_DECODER_QUEUE, None)
    if not isinstance(current, queue.Queue):
        raise AiortcIncompatible("RTCRtpReceiver has no decoder queue to replace")
    tap = FrameTap(on_frame, on_end)
    setattr(receiver, _RX_DECODER_QUEUE, tap)
    return tap


#: ``on_packet(packet, arrival_time_ms)``: one RTP packet as the receiver got it.
PacketCallback = Callable[[RtpPacket, int], None]


def count_rtp(receiver: RTCRtpReceiver, on_packet: PacketCallback) -> None:
    """Hand every RTP packet ``receiver`` gets to ``on_packet`` *instead of* processing it.

    For receivers that only count (the media bench's subscribers): no frames are reassembled
    or decoded, no NACKs or REMB are sent. RTCP (receiver reports, BYE) still works. Call it
    before packets arrive (after ``setRemoteDescription``).
    """
    if not callable(getattr(type(receiver), "_handle_rtp_packet", None)):
        raise AiortcIncompatible("RTCRtpReceiver has no _handle_rtp_packet")

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        on_packet(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle  # type: ignore[method-assign]


def on_audio_level(receiver: RTCRtpReceiver, callback: Callable[[int], None]) -> None:
    """Call ``callback(level)`` with every RTP packet's RFC 6464 audio level (0 loudest …
    127 silence) that ``receiver`` gets, before it processes the packet as usual. Packets
    without the header extension are not reported. Callback errors are logged, never raised
    into aiortc's packet path."""
    handle = getattr(receiver, "_handle_rtp_packet", None)
    if not callable(handle):
        raise AiortcIncompatible("RTCRtpReceiver has no _handle_rtp_packet")

    async def handle_with_level(packet: RtpPacket, arrival_time_ms: int) -> None:
        level = packet.extensions.audio_level
        if level is not None:
            try:
                callback(level[1])
            except Exception:
                log.exception("audio level callback failed")
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle_with_level  # type: ignore[method-assign]


#: ``on_packet(packet, mime_type)``: one RTP packet of a known codec, RTX unwrapped.
RtpCallback = Callable[[RtpPacket, str], None]


def tap_rtp(receiver: RTCRtpReceiver, on_packet: RtpCallback) -> None:
    """Hand every RTP packet ``receiver`` gets to ``on_packet`` *before* aiortc handles it
    (which it still does, unchanged). Retransmissions (RTX) are unwrapped first; packets of
    unknown payload types and padding-only packets are not handed over. Callback errors are
    logged, never raised into aiortc's packet path. Call it before packets arrive."""
    if not callable(getattr(type(receiver), "_handle_rtp_packet", None)):
        raise AiortcIncompatible("RTCRtpReceiver has no _handle_rtp_packet")
    codecs = getattr(receiver, _RX_CODECS, None)
    rtx_ssrcs = getattr(receiver, _RX_RTX_SSRC, None)
    if not isinstance(codecs, dict) or not isinstance(rtx_ssrcs, dict):
        raise AiortcIncompatible("RTCRtpReceiver has no codec or RTX map")
    original = receiver._handle_rtp_packet

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        codec = codecs.get(packet.payload_type)
        if codec is not None and packet.payload:
            forwarded: RtpPacket | None = packet
            if packet.ssrc in rtx_ssrcs:
                apt = codec.parameters.get("apt")
                codec = codecs.get(apt) if isinstance(apt, int) else None
                forwarded = (
                    unwrap_rtx(packet, payload_type=apt, ssrc=rtx_ssrcs[packet.ssrc])
                    if codec is not None and isinstance(apt, int) and len(packet.payload) > 2
                    else None
                )
            if forwarded is not None and codec is not None:
                try:
                    on_packet(forwarded, codec.mimeType.lower())
                except Exception:
                    log.exception("RTP tap callback failed")
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle  # type: ignore[method-assign]


def decoder_thread(receiver: RTCRtpReceiver) -> threading.Thread | None:
    """The receiver's decoder thread (for tests: proving a tapped one never decodes)."""
    thread = getattr(receiver, _RX_DECODER_THREAD)
    return thread if isinstance(thread, threading.Thread) else None


async def request_keyframe(receiver: RTCRtpReceiver) -> int:
    """Send a PLI for every media SSRC the receiver has seen; returns how many were sent.

    Before the first packet the SSRC is unknown and nothing is sent (the sender's first
    frame is a keyframe anyway).
    """
    streams: dict[int, object] = getattr(receiver, _RX_REMOTE_STREAMS)
    rtx: dict[int, int] = getattr(receiver, _RX_RTX_SSRC)
    sent = 0
    for ssrc in list(streams):
        if ssrc in rtx:
            continue
        await receiver._send_rtcp_pli(ssrc)
        sent += 1
    return sent
