"""Every use of aiortc's (and aioice's) private internals: here, and in the two modules for the
receiving and the sending end of forwarding (:mod:`media.aiortc_receiver`: taps on a
publisher's ``RTCRtpReceiver``; :mod:`media.aiortc_outlet`: RTP written for a subscriber's
``RTCRtpSender``). Both import this module, so the version check below guards them too.

aiortc 1.16.0 is pinned exactly (``pyproject.toml``); importing this module refuses any other
version, and ``tests/media/test_aiortc_hooks.py`` checks each hook against the installed source
so an upgrade fails the tests instead of the classroom. What is hooked, and why:

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
- **Who ended a connection** (:func:`peer_hung_up`): a peer connection closes by itself
  when the remote peer hangs up (DTLS close_notify), when aioice gives up on it (consent
  checks unanswered: it closes its ``Connection``, then DTLS reads nothing more, or ICE
  fails), and when its DTLS transport ends for any other reason (an error in its receive
  loop, the transport stopped); only the first is the client's own doing. The DTLS
  transport's private pyOpenSSL connection (``_ssl``) knows: ``get_shutdown()`` has
  ``RECEIVED_SHUTDOWN`` once the peer's close_notify was read.
- **SRTP protection** (:func:`srtp_protector`): pylibsrtp's ``Session.protect`` allocates
  a length cell and runs three Python frames per packet around ``srtp_protect``; a
  forwarder protects every packet once per subscriber, so :func:`srtp_protector` calls
  ``srtp_protect`` on the session's own buffer and state directly (same bytes out, same
  errors), or returns ``Session.protect`` itself when pylibsrtp is laid out otherwise.
  :func:`srtp_unprotector` does the same for ``srtp_unprotect`` (the media bench's
  subscribers, :func:`media.aiortc_receiver.receive_rtp_directly`).
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
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import aioice.ice
import aiortc
import aiortc.clock
import pylibsrtp._binding as _srtp_binding  # type: ignore[import-not-found]
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import convert_timebase
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpSrPacket,
    unpack_remb_fci,
)
from av.frame import Frame
from av.packet import Packet
from OpenSSL import SSL
from pylibsrtp import ERRORS as SRTP_ERRORS
from pylibsrtp import Error as SrtpError
from pylibsrtp import Session as SrtpSession

__all__ = [
    "AIORTC_VERSION",
    "AiortcIncompatible",
    "PacketOnlyEncoder",
    "fast_current_ms",
    "fast_ntp_time",
    "host_addresses",
    "install_packet_only_encoder",
    "on_keyframe_request",
    "on_receiver_feedback",
    "peer_hung_up",
    "sender_encoder",
    "set_msid",
    "srtp_protector",
    "srtp_unprotector",
]

log = logging.getLogger("liveclass.media.hooks")

#: The only aiortc version these hooks were written and tested against.
AIORTC_VERSION = "1.16.0"

# Name-mangled private attributes (``self.__x`` inside class C is ``_C__x``).
_TX_ENCODER = "_RTCRtpSender__encoder"
_TX_STARTED = "_RTCRtpSender__started"

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


# -- SRTP protection ----------------------------------------------------------------------

#: The room ``Session.protect`` keeps for the authentication tag (pylibsrtp's own figure).
_SRTP_MAX_TRAILER_LEN = 16 + 128


def srtp_protector(session: SrtpSession) -> Callable[[bytes], bytes]:
    """A function doing what ``session.protect`` does (SRTP-protect one RTP packet, return
    the protected bytes; ``ValueError`` if too long, ``pylibsrtp.Error`` on failure) with one
    Python frame. It uses the session's buffer, like ``protect``: call it on the event loop
    only, and use its result before the next call (bytes are copied out)."""
    return _direct_srtp(session, "srtp_protect", session.protect, _SRTP_MAX_TRAILER_LEN)


def srtp_unprotector(session: SrtpSession) -> Callable[[bytes], bytes]:
    """What ``session.unprotect`` does (verify and decrypt one SRTP packet; ``ValueError`` if
    too long, ``pylibsrtp.Error`` on failure: bad tag, replay) with one Python frame; the
    same rules as :func:`srtp_protector`."""
    return _direct_srtp(session, "srtp_unprotect", session.unprotect, 0)


def _direct_srtp(
    session: SrtpSession, name: str, fallback: Callable[[bytes], bytes], trailer: int
) -> Callable[[bytes], bytes]:
    cdata = session.__dict__.get("_cdata")
    buffer = session.__dict__.get("_buffer")
    state = session.__dict__.get("_srtp")
    if cdata is None or buffer is None or state is None:  # pragma: no cover - other pylibsrtp
        return fallback
    srtp = state[0]
    function = getattr(_srtp_binding.lib, name)
    ok = _srtp_binding.lib.srtp_err_status_ok
    limit = len(cdata) - trailer
    length = _srtp_binding.ffi.new("int *")

    def process(data: bytes) -> bytes:
        size = len(data)
        if size > limit:
            raise ValueError("packet is too long")
        length[0] = size
        buffer[0:size] = data
        rc = function(srtp, cdata, length)
        if rc != ok:
            raise SrtpError(SRTP_ERRORS[rc])
        return buffer[0 : length[0]]  # type: ignore[no-any-return]

    # keep the session (its state and buffer) alive as long as the function
    process.__dict__["session"] = session
    return process


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


def peer_hung_up(pc: RTCPeerConnection) -> bool:
    """Whether the remote peer ended ``pc`` itself (its DTLS close_notify arrived: the
    client closed that connection, and knows). Call it when the connection state turns
    ``closed`` or ``failed`` without our ``close()``: any other end (ICE failed, aioice
    closed it after unanswered consent checks, a DTLS error, our transport stopped) is a
    connection lost, which its owner must be told of."""
    for transceiver in pc.getTransceivers():
        connection = getattr(transceiver.receiver.transport, "_ssl", None)
        if connection is not None and connection.get_shutdown() & SSL.RECEIVED_SHUTDOWN:
            return True
    return False


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


#: ``on_feedback(fraction_lost, remb_bps, rtx_fraction_lost, rtt)``: a receiver report gives
#: the first (None if it has no block for the stream), the third (None if it has no block for
#: the stream's RTX SSRC, which carries probing padding) and the fourth (the round trip in
#: seconds, None unless the block answers the sender's last sender report); a REMB the second.
FeedbackCallback = Callable[[float | None, int | None, float | None, float | None], None]

_TX_LSR = "_RTCRtpSender__lsr"
_TX_LSR_TIME = "_RTCRtpSender__lsr_time"


def on_receiver_feedback(sender: RTCRtpSender, callback: FeedbackCallback) -> None:
    """Call ``callback`` (on the event loop) with what the remote receiver reports about
    ``sender``'s stream: each receiver report's fraction lost (0..1) for the stream and for
    its RTX stream and the round trip it tells, and each REMB estimate naming its SSRC (bits
    per second), before aiortc handles the packet as usual. (aiortc routes a report to the
    sender by the media SSRC; receivers put the RTX block in the same report. The round trip
    is what aiortc computes too: now - when the sender report the block names went out - the
    delay the receiver says it waited.) Callback errors are logged, never raised into aiortc's
    RTCP path."""
    handle = getattr(sender, "_handle_rtcp_packet", None)
    if not callable(handle) or _TX_LSR not in sender.__dict__:
        raise AiortcIncompatible("RTCRtpSender has no _handle_rtcp_packet or sender report time")
    fields = sender.__dict__

    async def handle_with_feedback(packet: Any) -> None:
        try:
            if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
                loss = rtx_loss = rtt = None
                for report in packet.reports:
                    if report.ssrc == sender._ssrc:
                        loss = report.fraction_lost / 256
                        sent_at = fields.get(_TX_LSR_TIME)
                        if report.dlsr and fields.get(_TX_LSR) == report.lsr and sent_at:
                            rtt = max(0.0, time.time() - sent_at - report.dlsr / 65536)
                    elif report.ssrc == sender._rtx_ssrc:
                        rtx_loss = report.fraction_lost / 256
                if loss is not None or rtx_loss is not None:
                    callback(loss, None, rtx_loss, rtt)
            elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                with contextlib.suppress(ValueError):
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                    if sender._ssrc in ssrcs:
                        callback(None, bitrate, None, None)
        except Exception:
            log.exception("receiver feedback callback failed")
        await handle(packet)

    sender._handle_rtcp_packet = handle_with_feedback  # type: ignore[method-assign]


def set_msid(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """What the next offer says in ``a=msid`` for this sender (stream id, track id)."""
    sender._stream_id = stream_id
    sender._track_id = track_id
