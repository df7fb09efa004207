"""The outlet's fast send path writes the same bytes as the general one, and the direct SRTP
protection (:func:`media.aiortc_hooks.srtp_protector`) the same as pylibsrtp's own."""

from __future__ import annotations

import os
import struct

import aiortc.rtcdtlstransport
import pylibsrtp
import pytest
from aiortc import (
    RTCDtlsTransport,
    RTCRtpCodecParameters,
    RTCRtpSender,
)
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)

from media import aiortc_hooks as hooks
from media import aiortc_outlet as outlets
from media.forwarding import ForwardedTrack
from tests.media.fake_ice import NominatedPair, PlainSrtp

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
MID = RTCRtpHeaderExtensionParameters(id=3, uri="urn:ietf:params:rtp-hdrext:sdes:mid")
AST = RTCRtpHeaderExtensionParameters(
    id=5, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
)


@pytest.mark.parametrize(
    ("extensions", "mux_id"),
    [([], ""), ([MID], "1"), ([MID], "video-12"), ([AST], ""), ([MID, AST], "1")],
)
async def test_sent_packets_are_the_general_header_and_the_payload(
    dtls: RTCDtlsTransport,
    monkeypatch: pytest.MonkeyPatch,
    extensions: list[RTCRtpHeaderExtensionParameters],
    mux_id: str,
) -> None:
    track = ForwardedTrack("video", clock_rate=90000, capacity=1)
    sender = RTCRtpSender(track, dtls)
    outlet = outlets.RtpOutlet(sender)
    pair = NominatedPair()
    socket = pair.protocol.transport
    assert socket is not None
    monkeypatch.setattr(dtls, "_state", aiortc.rtcdtlstransport.State.CONNECTED)
    monkeypatch.setattr(dtls, "_tx_srtp", PlainSrtp())
    monkeypatch.setattr(dtls.transport._connection, "_nominated", {1: pair})
    parameters = RTCRtpSendParameters(
        codecs=[VP8], headerExtensions=extensions, muxId=mux_id, rtcp=RTCRtcpParameters(cname="c")
    )
    outlet.configure(parameters)
    ntp = hooks.fast_ntp_time()
    for seq, ts, marker in [(0, 0, 0), (65535, 0xFFFFFFFF, 1), (1234, 90000, 1)]:
        outlet.send(seq, ts, marker, b"payload", ntp + seq)
        expected = outlet._header(97, seq, ts, marker, outlet.ssrc, ntp + seq) + b"payload"
        assert socket.datagrams[-1] == expected
    assert outlet.sent == 3
    # the socket closed: packets are counted as unsent, and sending resumes once it is back
    pair.protocol.transport = None
    outlet.send(1235, 90000, 0, b"payload", ntp)
    assert (outlet.sent, outlet.unsent) == (3, 1)
    pair.protocol.transport = socket
    outlet.send(1236, 90000, 0, b"payload", ntp)
    assert (outlet.sent, len(socket.datagrams)) == (4, 4)
    track.stop()


def _session(key: bytes) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    return pylibsrtp.Session(policy)


def test_direct_srtp_protection_matches_pylibsrtp() -> None:
    key = os.urandom(30)
    reference, session = _session(key), _session(key)
    protect = hooks.srtp_protector(session)
    assert protect is not session.protect
    for seq in range(200):
        packet = struct.pack("!BBHII", 0x80, 97, seq, seq * 3000, 42) + os.urandom(seq * 6)
        assert protect(packet) == reference.protect(packet)
    with pytest.raises(ValueError, match="too long"):
        protect(bytes(1400))
    with pytest.raises(pylibsrtp.Error):  # the same packet twice: libsrtp's replay check
        protect(packet)
