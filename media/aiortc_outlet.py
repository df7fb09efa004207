"""The subscriber's end of forwarding: RTP written for aiortc's ``RTCRtpSender`` (private
internals, pinned with :mod:`media.aiortc_hooks`, checked by ``tests/media/test_aiortc_hooks.py``).

- **Sender RTP outlet** (:class:`RtpOutlet`, the forwarding path): packets are sent for an
  ``RTCRtpSender`` without its RTP task (its track never yields): ``send`` is wrapped per
  instance to learn the negotiated payload types and header extension ids; each packet is
  protected with the DTLS transport's SRTP session and written straight to the nominated
  ICE pair's UDP transport (no coroutine per packet); the sender's private counters that
  its sender reports read (packets, octets, the last RTP/NTP timestamps) are kept up to
  date; ``_retransmit`` (NACK) is replaced per instance to resend from the outlet's own
  history, as RTX when negotiated; padding-only RTX packets probe the link
  (:meth:`RtpOutlet.send_padding`).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpSender
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters

from media.aiortc_hooks import AiortcIncompatible, fast_ntp_time, srtp_protector

__all__ = ["HISTORY_SIZE", "RtpOutlet"]

# Name-mangled private attributes of RTCRtpSender (``self.__x`` is ``_RTCRtpSender__x``).
_TX_STARTED = "_RTCRtpSender__started"
_TX_NTP = "_RTCRtpSender__ntp_timestamp"
_TX_RTP_TIMESTAMP = "_RTCRtpSender__rtp_timestamp"
_TX_OCTETS = "_RTCRtpSender__octet_count"
_TX_PACKETS = "_RTCRtpSender__packet_count"
_TX_TRANSPORT = "_RTCRtpSender__transport"

#: (DTLS transport, its SRTP protect function, the nominated pair's protocol, its address).
_Route = tuple[Any, Callable[[bytes], bytes], Any, tuple[str, int]]

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
        if _TX_TRANSPORT not in sender.__dict__:
            raise AiortcIncompatible(f"RTCRtpSender has no {_TX_TRANSPORT}")
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
        #: (seq, ts, marker, payload, when sent) by seq % HISTORY_SIZE.
        self._history: list[tuple[int, int, int, bytes, int] | None] = [None] * HISTORY_SIZE
        self._route: _Route | None = None
        self._protector: tuple[Any, Callable[[bytes], bytes]] | None = None
        self._prefix = b""
        self._pack = struct.Struct(f"{_RTP_HEADER.format}0s").pack
        self._ast_id = 0
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
        # the whole header in one pack: the constant extension bytes are an argument, and
        # abs-send-time (always last) is its id byte and 3-byte value packed as one word
        self._prefix = self._ext_head[:-1] if self._ext_ast else self._ext_head
        self._ast_id = self._ext_head[-1] << 24 if self._ext_ast else 0
        layout = f"{_RTP_HEADER.format}{len(self._prefix)}s{'I' if self._ext_ast else ''}"
        self._pack = struct.Struct(f"{layout}{len(self._ext_tail)}x").pack

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
        self._history[seq % HISTORY_SIZE] = (seq, ts, marker, payload, ntp)
        self._last_ts = ts
        route = self._route if self._route is not None else self._connect()
        if route is not None:
            dtls, protect, protocol, addr = route
            transport = protocol.transport
            if (
                transport is not None
                and dtls._state is _DTLS_CONNECTED
                and self._fields[_TX_TRANSPORT] is dtls
            ):
                if self._ext_ast:
                    word = self._ast_id | ((ntp >> 14) & 0xFFFFFF)
                    header = self._pack(
                        self._first, (marker << 7) | pt, seq, ts, self.ssrc, self._prefix, word
                    )
                else:
                    header = self._pack(
                        self._first, (marker << 7) | pt, seq, ts, self.ssrc, self._prefix
                    )
                transport.sendto(protect(header + payload), addr)
                fields = self._fields
                fields[_TX_NTP] = ntp
                fields[_TX_RTP_TIMESTAMP] = ts
                fields[_TX_OCTETS] += len(payload)
                fields[_TX_PACKETS] += 1
                self.sent += 1
                return
            self._route = None
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

    def _connect(self) -> _Route | None:
        """What sending needs, once the connection is up (None until then): the DTLS
        transport, its SRTP protection, the nominated ICE pair's protocol and address
        (aioice never changes the nominated pair once ICE completed)."""
        dtls = self._fields[_TX_TRANSPORT]
        if dtls._state is not _DTLS_CONNECTED:
            return None
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            return None
        session = dtls._tx_srtp
        cached = self._protector
        if cached is None or cached[0] is not session:
            cached = self._protector = (session, srtp_protector(session))
        self._route = (dtls, cached[1], pair.protocol, pair.remote_addr)
        return self._route

    def _emit(self, data: bytes) -> bool:
        route = self._route if self._route is not None else self._connect()
        if route is None:
            return False
        dtls, protect, protocol, addr = route
        transport = protocol.transport
        if (
            transport is None
            or dtls._state is not _DTLS_CONNECTED
            or self._fields[_TX_TRANSPORT] is not dtls
        ):
            self._route = None
            return False
        transport.sendto(protect(data), addr)
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
        seq, ts, marker, payload, sent_at = entry
        # A receiver NACKs every packet still missing each time it notices a new gap: resend
        # one packet at most once per RESEND_INTERVAL, or a link that drops drowns in resends.
        if ntp - sent_at > _RESEND_MAX_AGE_NTP:
            return  # too late to help; resending it would only crowd out newer packets
        last = self._resent_at[sequence_number % HISTORY_SIZE]
        if last is not None and last[0] == sequence_number and ntp - last[1] < _RESEND_NTP:
            return
        self._resent_at[sequence_number % HISTORY_SIZE] = (sequence_number, ntp)
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
