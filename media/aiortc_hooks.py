"""Every use of aiortc's (and aioice's) private internals, in one place.

aiortc 1.16.0 is pinned exactly (``pyproject.toml``); importing this module refuses any other
version, and ``tests/media/test_aiortc_hooks.py`` checks each hook against the installed source
so an upgrade fails the tests instead of the classroom. What is hooked, and why:

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
- **Sender RTP outlet** (:class:`RtpOutlet`, the forwarding path): packets are sent for an
  ``RTCRtpSender`` without its RTP task (its track never yields): ``send`` is wrapped per
  instance to learn the negotiated payload types and header extension ids; each packet is
  protected with the DTLS transport's SRTP session and written straight to the nominated
  ICE pair's UDP transport (no coroutine per packet); the sender's private counters that
  its sender reports read (packets, octets, the last RTP/NTP timestamps) are kept up to
  date; ``_retransmit`` (NACK) is replaced per instance to resend from the outlet's own
  history, as RTX when negotiated; padding-only RTX packets probe the link
  (:meth:`RtpOutlet.send_padding`).
- **Sender encoder** (:func:`install_packet_only_encoder`). ``RTCRtpSender`` creates its
  encoder lazily in ``_next_encoded_frame`` and only packetizes (``encoder.pack``) when the
  track yields ``av.Packet``\\ s. Presetting the private ``__encoder`` with a
  :class:`PacketOnlyEncoder` keeps even the encoder contexts from being created, and makes an
  accidental encode an error.
- **Sender keyframe requests** (:func:`on_keyframe_request`): PLI/FIR from the subscriber
  land in ``_send_keyframe``, which we replace per instance to reach the publisher.
- **Sender receiver feedback** (:func:`on_receiver_feedback`): ``_handle_rtcp_packet`` is
  wrapped per instance to read the subscriber's loss (receiver reports, for the stream and
  its RTX stream) and REMB estimates first, for adaptive quality (:mod:`media.layers`).
- **Sender msid** (:func:`set_msid`): ``_stream_id``/``_track_id`` name the publisher in the
  subscriber's SDP, so a browser's ``track`` event says whose media it is.
- **Clock** (:func:`fast_ntp_time`): every RTP packet aiortc sends reads the NTP time twice
  (``abs-send-time``, the sender report's reference) and every packet it receives reads the
  time in ms, through ``datetime`` objects; that was ~7 % of a media worker's CPU
  (py-spy, ``liveclass-bench media --profile``). ``aiortc.clock.current_ntp_time`` and
  ``current_ms`` are replaced, at import, by the same values computed from ``time.time()``
  (the same clock ``datetime.now`` reads), to the microsecond.
- **Who ended a connection** (:func:`ice_gave_up`): a peer connection closes both when the
  remote peer hangs up (DTLS close_notify) and when aioice gives up on it (consent checks
  unanswered: it closes its ``Connection``, then DTLS reads nothing more); only aioice's
  private ``_closing`` flag, set first thing in ``Connection.close``, tells them apart.
- **ICE host addresses** (:func:`host_addresses`). aioice gathers host candidates on every
  interface except loopback (module function ``aioice.ice.get_host_addresses``). It is
  wrapped once, at import, to return the addresses set in a context variable, and to behave
  as before when none is set. (The UDP port range ICE binds in: :mod:`media.aioice_ports`.)
"""

from __future__ import annotations

import contextlib
import contextvars
import fractions
import logging
import queue
import random
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import aioice.ice
import aiortc
import aiortc.clock
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import convert_timebase
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpSrPacket,
    RtpPacket,
    unpack_remb_fci,
    unwrap_rtx,
)
from av.frame import Frame
from av.packet import Packet

__all__ = [
    "AIORTC_VERSION",
    "AiortcIncompatible",
    "FrameTap",
    "PacketCallback",
    "PacketOnlyEncoder",
    "RtpCallback",
    "RtpOutlet",
    "count_rtp",
    "decoder_thread",
    "fast_current_ms",
    "fast_ntp_time",
    "host_addresses",
    "ice_gave_up",
    "install_packet_only_encoder",
    "on_audio_level",
    "on_keyframe_request",
    "on_receiver_feedback",
    "request_keyframe",
    "sender_encoder",
    "set_msid",
    "tap_receiver",
    "tap_rtp",
]

log = logging.getLogger("liveclass.media.hooks")

#: The only aiortc version these hooks were written and tested against.
AIORTC_VERSION = "1.16.0"

# Name-mangled private attributes (``self.__x`` inside class C is ``_C__x``).
_RX_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RX_DECODER_THREAD = "_RTCRtpReceiver__decoder_thread"
_RX_STARTED = "_RTCRtpReceiver__started"
_RX_REMOTE_STREAMS = "_RTCRtpReceiver__remote_streams"
_RX_RTX_SSRC = "_RTCRtpReceiver__rtx_ssrc"
_RX_CODECS = "_RTCRtpReceiver__codecs"
_TX_ENCODER = "_RTCRtpSender__encoder"
_TX_STARTED = "_RTCRtpSender__started"
_TX_NTP = "_RTCRtpSender__ntp_timestamp"
_TX_RTP_TIMESTAMP = "_RTCRtpSender__rtp_timestamp"
_TX_OCTETS = "_RTCRtpSender__octet_count"
_TX_PACKETS = "_RTCRtpSender__packet_count"

_OPUS_TIME_BASE = fractions.Fraction(1, 48000)


class AiortcIncompatible(RuntimeError):
    """The installed aiortc is not laid out the way these hooks expect."""


if aiortc.__version__ != AIORTC_VERSION:  # pragma: no cover - guarded by the pin
    raise AiortcIncompatible(
        f"media needs aiortc=={AIORTC_VERSION} (private hooks), found {aiortc.__version__}"
    )


# -- Clock --------------------------------------------------------------------------------

#: Seconds from the NTP epoch (1900-01-01) to the Unix epoch.
_NTP_UNIX_OFFSET = 2_208_988_800
_original_current_ntp_time = aiortc.clock.current_ntp_time
_original_current_ms = aiortc.clock.current_ms


_NTP_UNIX_OFFSET_MS = _NTP_UNIX_OFFSET * 1000
_time_ns = time.time_ns


def fast_ntp_time() -> int:
    """``aiortc.clock.current_ntp_time()`` (64-bit NTP time) without ``datetime``."""
    seconds, nanos = divmod(_time_ns(), 1_000_000_000)
    return ((seconds + _NTP_UNIX_OFFSET) << 32) | (((nanos // 1000) << 32) // 1_000_000)


def fast_current_ms() -> int:
    """``aiortc.clock.current_ms()`` (ms since the NTP epoch) without ``datetime``."""
    return _time_ns() // 1_000_000 + _NTP_UNIX_OFFSET_MS


aiortc.clock.current_ntp_time = fast_ntp_time
aiortc.clock.current_ms = fast_current_ms


# -- ICE host addresses -------------------------------------------------------------------

_HOST_ADDRESSES: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "liveclass_media_host_addresses", default=None
)
_original_get_host_addresses = aioice.ice.get_host_addresses


def _get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    chosen = _HOST_ADDRESSES.get()
    if chosen is None:
        return _original_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    return [a for a in chosen if (use_ipv6 if ":" in a else use_ipv4)]


aioice.ice.get_host_addresses = _get_host_addresses


@contextlib.contextmanager
def host_addresses(addresses: Sequence[str] | None) -> Iterator[None]:
    """Within this block (and tasks it starts), ICE gathers host candidates on ``addresses``.

    Gathering happens in ``RTCPeerConnection.setLocalDescription``: wrap that call. ``None``
    keeps aioice's default (every non-loopback interface).
    """
    token = _HOST_ADDRESSES.set(None if addresses is None else tuple(addresses))
    try:
        yield
    finally:
        _HOST_ADDRESSES.reset(token)


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


def ice_gave_up(pc: RTCPeerConnection) -> bool:
    """Whether ``pc``'s own ICE gave up (it failed, or aioice closed the connection after
    unanswered consent checks), as opposed to the remote peer closing it or ``pc.close()``
    not having run yet. Call it when the connection state turns ``closed`` or ``failed``."""
    if pc.iceConnectionState == "failed":
        return True
    for transceiver in pc.getTransceivers():
        ice = transceiver.receiver.transport.transport
        if ice.state == "failed" or getattr(ice._connection, "_closing", False):
            return True
    return False


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


# -- Sender: packetize only ---------------------------------------------------------------


class EncodingRefused(RuntimeError):
    """The forwarder was handed a raw frame: it never encodes."""


class PacketOnlyEncoder:
    """The sender's "encoder" for forwarded tracks: packetizes ``av.Packet``\\ s, refuses frames.

    VP8 and H.264 borrow aiortc's packetizers (their encoder objects create no codec context
    until ``encode`` is called, which never happens here); Opus needs none (one frame, one
    RTP payload).
    """

    def __init__(self, mime_type: str) -> None:
        mime = mime_type.lower()
        self.mime_type = mime
        self._packer: Vp8Encoder | H264Encoder | None
        if mime == "video/vp8":
            self._packer = Vp8Encoder()
        elif mime == "video/h264":
            self._packer = H264Encoder()
        elif mime == "audio/opus":
            self._packer = None
        else:
            raise AiortcIncompatible(f"no packetizer for {mime}")
        self.packed = 0
        self.encoded = 0  # must stay 0

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        self.encoded += 1
        raise EncodingRefused(f"the SFU does not encode ({self.mime_type})")

    def pack(self, packet: Packet[Any]) -> tuple[list[bytes], int]:
        self.packed += 1
        if self._packer is not None:
            return self._packer.pack(packet)
        if packet.pts is None or packet.time_base is None:
            raise ValueError("an Opus packet needs pts and time_base")
        return [bytes(packet)], convert_timebase(packet.pts, packet.time_base, _OPUS_TIME_BASE)


def install_packet_only_encoder(sender: RTCRtpSender, mime_type: str) -> PacketOnlyEncoder:
    """Preset ``sender``'s encoder (before it starts sending) to a :class:`PacketOnlyEncoder`."""
    started = getattr(sender, _TX_STARTED, None)
    if started is not False or getattr(sender, _TX_ENCODER, 0) is not None:
        raise AiortcIncompatible("the sender has started, or aiortc changed its layout")
    encoder = PacketOnlyEncoder(mime_type)
    setattr(sender, _TX_ENCODER, encoder)
    return encoder


def sender_encoder(sender: RTCRtpSender) -> object:
    """The sender's current encoder object (for tests)."""
    return getattr(sender, _TX_ENCODER)


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` (on the event loop) for each PLI or FIR the remote peer sends."""
    if not callable(getattr(type(sender), "_send_keyframe", None)):
        raise AiortcIncompatible("RTCRtpSender has no _send_keyframe")
    sender._send_keyframe = callback  # type: ignore[method-assign]


#: ``on_feedback(fraction_lost, remb_bps, rtx_fraction_lost)``: a receiver report gives the
#: first (None if it has no block for the stream) and the third (None if it has no block for
#: the stream's RTX SSRC, which carries probing padding); a REMB the second.
FeedbackCallback = Callable[[float | None, int | None, float | None], None]


def on_receiver_feedback(sender: RTCRtpSender, callback: FeedbackCallback) -> None:
    """Call ``callback`` (on the event loop) with what the remote receiver reports about
    ``sender``'s stream: each receiver report's fraction lost (0..1) for the stream and for
    its RTX stream, and each REMB estimate naming its SSRC (bits per second), before aiortc
    handles the packet as usual. (aiortc routes a report to the sender by the media SSRC;
    receivers put the RTX block in the same report.) Callback errors are logged, never
    raised into aiortc's RTCP path."""
    handle = getattr(sender, "_handle_rtcp_packet", None)
    if not callable(handle):
        raise AiortcIncompatible("RTCRtpSender has no _handle_rtcp_packet")

    async def handle_with_feedback(packet: Any) -> None:
        try:
            if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
                loss = rtx_loss = None
                for report in packet.reports:
                    if report.ssrc == sender._ssrc:
                        loss = report.fraction_lost / 256
                    elif report.ssrc == sender._rtx_ssrc:
                        rtx_loss = report.fraction_lost / 256
                if loss is not None or rtx_loss is not None:
                    callback(loss, None, rtx_loss)
            elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                with contextlib.suppress(ValueError):
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                    if sender._ssrc in ssrcs:
                        callback(None, bitrate, None)
        except Exception:
            log.exception("receiver feedback callback failed")
        await handle(packet)

    sender._handle_rtcp_packet = handle_with_feedback  # type: ignore[method-assign]


def set_msid(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """What the next offer says in ``a=msid`` for this sender (stream id, track id)."""
    sender._stream_id = stream_id
    sender._track_id = track_id


# -- Sender: RTP written by us ------------------------------------------------------------

_RTP_HEADER = struct.Struct("!BBHII")
_SEQ = struct.Struct("!H")
_DTLS_CONNECTED = DtlsState.CONNECTED
_MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
_ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#: Packets kept per stream for retransmission (about 2.5 s of 700 kbps video).
HISTORY_SIZE = 512
#: The shortest time between two retransmissions of one packet (NTP units: 2**32 a second).
RESEND_INTERVAL = 0.2
_RESEND_NTP = int(RESEND_INTERVAL * (1 << 32))
#: The oldest packet still worth resending (seconds since it was first sent).
RESEND_MAX_AGE = 2.0
_RESEND_MAX_AGE_NTP = int(RESEND_MAX_AGE * (1 << 32))


class RtpOutlet:
    """Sends the RTP of one ``RTCRtpSender`` (see the module docstring).

    The sender's own RTP task must stay idle (its track never yields); the sender still runs
    its RTCP (sender reports, from the counters kept here; NACK and PLI from the remote
    side). :meth:`send` is synchronous: while the connection is not up (or after it closed)
    packets are dropped and counted in ``unsent``.
    """

    def __init__(self, sender: RTCRtpSender) -> None:
        if getattr(sender, _TX_STARTED, None) is not False:
            raise AiortcIncompatible("the sender has started, or aiortc changed its layout")
        for name in (_TX_NTP, _TX_RTP_TIMESTAMP, _TX_OCTETS, _TX_PACKETS):
            if not isinstance(sender.__dict__.get(name), int):
                raise AiortcIncompatible(f"RTCRtpSender has no {name}")
        if not callable(getattr(type(sender), "_retransmit", None)):
            raise AiortcIncompatible("RTCRtpSender has no _retransmit")
        self._sender = sender
        self._fields = sender.__dict__
        self.ssrc: int = sender._ssrc
        self.rtx_ssrc: int = sender._rtx_ssrc
        self.payload_type: int | None = None
        self.rtx_payload_type: int | None = None
        self._ext_head = b""
        self._ext_tail = b""
        self._ext_ast = False
        self._first = 0x80
        self._rtx_seq = random.randrange(1 << 16)
        self._history: list[tuple[int, int, int, bytes] | None] = [None] * HISTORY_SIZE
        self._pair: Any = None
        self.sent = 0
        self.unsent = 0
        self.retransmitted = 0
        #: Padding bytes sent (probing).
        self.padding_sent = 0
        self._last_ts = 0
        #: Distinct packets the receiver reported missing (NACK): the loss it saw before
        #: retransmissions (receiver reports count a retransmitted packet as received).
        self.nacked = 0
        self._nacked_recently: dict[int, None] = {}
        self._resent_at: list[tuple[int, int] | None] = [None] * HISTORY_SIZE
        self._sent_at: list[int] = [0] * HISTORY_SIZE
        original_send = sender.send

        async def send(parameters: RTCRtpSendParameters) -> None:
            self.configure(parameters)
            await original_send(parameters)

        sender.send = send  # type: ignore[method-assign]
        sender._retransmit = self._retransmit  # type: ignore[method-assign]

    def configure(self, parameters: RTCRtpSendParameters) -> None:
        """The negotiated payload types and header extensions (from the sender's ``send``)."""
        main = parameters.codecs[0].payloadType
        self.payload_type = main
        self.rtx_payload_type = next(
            (
                c.payloadType
                for c in parameters.codecs
                if c.mimeType.lower().endswith("/rtx") and c.parameters.get("apt") == main
            ),
            None,
        )
        ids = {e.uri: e.id for e in parameters.headerExtensions}
        head = b""
        mid = (parameters.muxId or "").encode()
        if _MID_URI in ids and mid:
            head += bytes([(ids[_MID_URI] << 4) | (len(mid) - 1)]) + mid
        self._ext_ast = _ABS_SEND_TIME_URI in ids
        size = len(head) + (4 if self._ext_ast else 0)
        if self._ext_ast:
            head += bytes([(ids[_ABS_SEND_TIME_URI] << 4) | 2])
        if size:
            padding = -size % 4
            self._ext_head = b"\xbe\xde" + _SEQ.pack((size + padding) // 4) + head
            self._ext_tail = b"\x00" * padding
            self._first = 0x90
        else:
            self._ext_head = self._ext_tail = b""
            self._first = 0x80

    def _header(self, pt: int, seq: int, ts: int, marker: int, ssrc: int, ntp: int) -> bytes:
        header = _RTP_HEADER.pack(self._first, (marker << 7) | pt, seq, ts, ssrc)
        if self._first == 0x80:
            return header
        if self._ext_ast:
            ast = ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")
            return header + self._ext_head + ast + self._ext_tail
        return header + self._ext_head + self._ext_tail

    def send(self, seq: int, ts: int, marker: int, payload: bytes, ntp: int) -> None:
        """Send one packet (``ntp``: now, as ``fast_ntp_time()``; one reading serves every
        subscriber of a packet)."""
        pt = self.payload_type
        if pt is None:
            self.unsent += 1
            return
        self._history[seq % HISTORY_SIZE] = (seq, ts, marker, payload)
        self._sent_at[seq % HISTORY_SIZE] = ntp
        header = _RTP_HEADER.pack(self._first, (marker << 7) | pt, seq, ts, self.ssrc)
        if self._ext_ast:
            ast = ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")
            data = b"".join((header, self._ext_head, ast, self._ext_tail, payload))
        else:
            data = b"".join((header, self._ext_head, self._ext_tail, payload))
        self._last_ts = ts
        if self._emit(data):
            fields = self._fields
            fields[_TX_NTP] = ntp
            fields[_TX_RTP_TIMESTAMP] = ts
            fields[_TX_OCTETS] += len(payload)
            fields[_TX_PACKETS] += 1
            self.sent += 1
        else:
            self.unsent += 1

    @property
    def can_pad(self) -> bool:
        """Padding can be sent (RTX is negotiated, and a packet has gone out to copy the
        timestamp of)."""
        return self.rtx_payload_type is not None and self.sent > 0

    def send_padding(self, size: int, ntp: int) -> bool:
        """Send one padding-only RTX packet of ``size`` (1..255) padding bytes, for probing
        the link (:mod:`media.layers`): receivers count it in their bandwidth estimate and
        their report on the RTX stream, and drop it. Whether it went out."""
        pt = self.rtx_payload_type
        if pt is None or not 0 < size <= 255:
            return False
        header = self._header(pt, self._rtx_seq, self._last_ts, 0, self.rtx_ssrc, ntp)
        self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
        data = bytes([header[0] | 0x20]) + header[1:] + bytes(size - 1) + bytes([size])
        if self._emit(data):
            self.padding_sent += size
            return True
        return False

    def _emit(self, data: bytes) -> bool:
        dtls = self._sender.transport
        if dtls._state is not _DTLS_CONNECTED:
            return False
        pair = self._pair
        if pair is None:
            # the nominated pair, once ICE completed (aioice never changes it afterwards)
            pair = self._pair = dtls.transport._connection._nominated.get(1)
            if pair is None:
                return False
        transport = pair.protocol.transport
        if transport is None:
            return False
        transport.sendto(dtls._tx_srtp.protect(data), pair.remote_addr)
        return True

    async def _retransmit(self, sequence_number: int) -> None:
        """The remote side NACKed ``sequence_number``: resend it (as RTX when negotiated)."""
        if sequence_number not in self._nacked_recently:
            self.nacked += 1
            self._nacked_recently[sequence_number] = None
            if len(self._nacked_recently) > HISTORY_SIZE:
                del self._nacked_recently[next(iter(self._nacked_recently))]
        entry = self._history[sequence_number % HISTORY_SIZE]
        if entry is None or entry[0] != sequence_number or self.payload_type is None:
            return
        ntp = fast_ntp_time()
        # A receiver NACKs every packet still missing each time it notices a new gap: resend
        # one packet at most once per RESEND_INTERVAL, or a link that drops drowns in resends.
        if ntp - self._sent_at[sequence_number % HISTORY_SIZE] > _RESEND_MAX_AGE_NTP:
            return  # too late to help; resending it would only crowd out newer packets
        last = self._resent_at[sequence_number % HISTORY_SIZE]
        if last is not None and last[0] == sequence_number and ntp - last[1] < _RESEND_NTP:
            return
        self._resent_at[sequence_number % HISTORY_SIZE] = (sequence_number, ntp)
        seq, ts, marker, payload = entry
        if self.rtx_payload_type is None:
            data = self._header(self.payload_type, seq, ts, marker, self.ssrc, ntp) + payload
        else:
            header = self._header(
                self.rtx_payload_type, self._rtx_seq, ts, marker, self.rtx_ssrc, ntp
            )
            self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
            data = header + _SEQ.pack(seq) + payload
        if self._emit(data):
            self.retransmitted += 1
