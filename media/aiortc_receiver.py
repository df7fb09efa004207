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
- **Direct receive** (:func:`receive_rtp_directly`, for load generators): once the DTLS
  transport is connected, the ICE connection's UDP protocols (aioice ``StunProtocol``, one
  per local candidate) get a per-instance ``datagram_received`` that takes SRTP packets
  straight off the socket: unprotected with the transport's own SRTP session
  (``_rx_srtp``), routed as aiortc routes them (``_rtp_router.route_rtp``, once per SSRC and
  payload type), and handed to the receiver's callback as (SSRC, sequence number, marker,
  payload). aiortc's per-packet work is skipped: aioice's STUN parse attempt, its datagram
  queue, the DTLS transport's receive task, ``RtpPacket`` and the receiver's coroutine.
  Everything else (STUN: ICE consent; DTLS; SRTCP: sender reports, BYE) goes to the original
  handler, unchanged.
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
import struct
import threading
import weakref
from collections.abc import Callable
from typing import Any

from aiortc import RTCDtlsTransport, RTCRtpReceiver
from aiortc.rtp import RtpPacket, unwrap_rtx
from pylibsrtp import Error as SrtpError

from media.aiortc_hooks import AiortcIncompatible, srtp_unprotector

__all__ = [
    "FrameCallback",
    "FrameTap",
    "PacketCallback",
    "RawRtpCallback",
    "RtpCallback",
    "count_rtp",
    "decoder_thread",
    "direct_receive_counts",
    "on_audio_level",
    "receive_rtp_directly",
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
    or decoded, no NACKs or REMB are sent, and no receiver reports either (aiortc reports
    only the streams its own handler kept statistics for). RTCP from the sender (sender
    reports, BYE) still reaches the receiver. Call it before packets arrive (after
    ``setRemoteDescription``).
    """
    if not callable(getattr(type(receiver), "_handle_rtp_packet", None)):
        raise AiortcIncompatible("RTCRtpReceiver has no _handle_rtp_packet")

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        on_packet(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle  # type: ignore[method-assign]


# -- Receiver: RTP straight off the ICE socket ---------------------------------------------

#: ``on_rtp(ssrc, sequence_number, marker, payload)``: one RTP packet (padding stripped).
RawRtpCallback = Callable[[int, int, int, bytes], None]

_RTP_HEADER = struct.Struct("!BBHII")
_ICE_CONNECTION = "_connection"  # RTCIceTransport's aioice Connection
_ICE_PROTOCOLS = "_protocols"  # the Connection's StunProtocols, one per local candidate
_DTLS_RX_SRTP = "_rx_srtp"
_DTLS_ROUTER = "_rtp_router"
_DTLS_EXTENSIONS = "_rtp_header_extensions_map"


class _DirectReceive:
    """One DTLS transport's direct RTP path: the callbacks of its receivers, by routing."""

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self.dtls = dtls
        self.callbacks: weakref.WeakKeyDictionary[RTCRtpReceiver, RawRtpCallback] = (
            weakref.WeakKeyDictionary()
        )
        #: (ssrc << 7 | payload type) -> callback, filled as aiortc's router routes them.
        self.routes: dict[int, RawRtpCallback] = {}
        self.installed = False
        self.packets = 0  # handed to a callback
        self.dropped = 0  # failed SRTP, malformed, routed nowhere, or the callback raised
        connection = getattr(dtls.transport, _ICE_CONNECTION, None)
        if not isinstance(getattr(connection, _ICE_PROTOCOLS, None), list):
            raise AiortcIncompatible("RTCIceTransport has no aioice connection with protocols")
        if not hasattr(dtls, _DTLS_ROUTER) or not hasattr(dtls, _DTLS_RX_SRTP):
            raise AiortcIncompatible("RTCDtlsTransport has no RTP router or SRTP session")
        if dtls.state == "connected":
            self.install()
        else:
            dtls.on("statechange", self._on_state)

    def _on_state(self) -> None:
        # pyee calls this synchronously from _set_state(CONNECTED), before the transport's
        # receive task starts: no datagram is read between the handshake and the swap
        if self.dtls.state == "connected" and not self.installed:
            try:
                self.install()
            except AiortcIncompatible:  # aiortc's own path (count_rtp) still counts
                log.exception("direct RTP receive not installed")

    def install(self) -> None:
        session = getattr(self.dtls, _DTLS_RX_SRTP)
        if session is None:
            raise AiortcIncompatible("a connected RTCDtlsTransport without an SRTP session")
        connection = getattr(self.dtls.transport, _ICE_CONNECTION)
        protocols = getattr(connection, _ICE_PROTOCOLS)
        if not protocols:
            raise AiortcIncompatible("the ICE connection has no protocol to read from")
        unprotect = srtp_unprotector(session)
        for protocol in protocols:
            protocol.datagram_received = self._handler(unprotect, protocol.datagram_received)
        self.installed = True

    def _route(self, plain: bytes, key: int) -> RawRtpCallback | None:
        """The callback aiortc's router picks for this packet (cached once found)."""
        try:
            packet = RtpPacket.parse(plain, getattr(self.dtls, _DTLS_EXTENSIONS))
        except ValueError:
            return None
        receiver = getattr(self.dtls, _DTLS_ROUTER).route_rtp(packet)
        callback = self.callbacks.get(receiver) if receiver is not None else None
        if callback is not None:
            self.routes[key] = callback
        return callback

    def _handler(
        self, unprotect: Callable[[bytes], bytes], original: Callable[[bytes, Any], None]
    ) -> Callable[[bytes, Any], None]:
        routes = self.routes
        unpack = _RTP_HEADER.unpack_from

        def datagram_received(data: bytes, addr: Any) -> None:
            # RFC 7983: 128..191 is RTP or RTCP; aiortc's is_rtcp() tells RTCP by its type
            if len(data) < 12 or not 127 < data[0] < 192 or 191 < data[1] < 209:
                original(data, addr)
                return
            try:
                plain = unprotect(data)
                first, second, sequence, _timestamp, ssrc = unpack(plain)
                end = len(plain)
                if first & 0x20:  # padding: its length is the last byte
                    end -= plain[-1]
                start = 12 + 4 * (first & 0x0F)
                if first & 0x10:  # header extension: 4 bytes, then its length in words
                    start += 4 + 4 * int.from_bytes(plain[start + 2 : start + 4], "big")
                if first >> 6 != 2 or start > end:
                    raise ValueError("malformed RTP packet")
                key = ssrc << 7 | (second & 0x7F)
                callback = routes.get(key) or self._route(plain, key)
                if callback is None:
                    self.dropped += 1
                    return
                callback(ssrc, sequence, second >> 7, plain[start:end])
                self.packets += 1
            except (SrtpError, ValueError, struct.error):
                self.dropped += 1  # aiortc drops these too (without a word)
            except Exception:
                self.dropped += 1
                log.exception("direct RTP callback failed")

        return datagram_received


_direct: weakref.WeakKeyDictionary[RTCDtlsTransport, _DirectReceive] = weakref.WeakKeyDictionary()


def receive_rtp_directly(receiver: RTCRtpReceiver, on_rtp: RawRtpCallback) -> None:
    """Hand every RTP packet routed to ``receiver`` to ``on_rtp`` *instead of* processing
    it, taking it off the ICE socket as it arrives (see the module docstring).

    For receivers that only count (the media bench's subscribers): nothing is reassembled,
    no statistics are kept (so no receiver reports are sent: aiortc sends RRs only for
    streams its own packet handler saw; :func:`count_rtp` does the same), no NACKs, no
    decoder; the DTLS transport's byte and packet counters stop at the handshake. RTCP from
    the sender still reaches the receiver. Call it once ``receiver`` has its final transport
    (after ``setRemoteDescription``, which bundles) and before packets arrive; packets
    aiortc handled before the direct path was in place reach ``on_rtp`` too. Callback errors
    are logged, never raised into the event loop.
    """
    dtls = receiver.transport
    direct = _direct.get(dtls)
    if direct is None:
        direct = _direct[dtls] = _DirectReceive(dtls)
    direct.callbacks[receiver] = on_rtp
    direct.routes.clear()  # the router may pick another receiver now

    def on_packet(packet: RtpPacket, _arrival_time_ms: int) -> None:
        on_rtp(packet.ssrc, packet.sequence_number, packet.marker, packet.payload)

    count_rtp(receiver, on_packet)


def direct_receive_counts(dtls: RTCDtlsTransport) -> tuple[int, int] | None:
    """(packets handed to callbacks, packets dropped) on ``dtls``'s direct path, or None
    when it has none."""
    direct = _direct.get(dtls)
    return None if direct is None else (direct.packets, direct.dropped)


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
