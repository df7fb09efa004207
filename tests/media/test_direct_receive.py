"""The direct RTP receive path (media.aiortc_receiver.receive_rtp_directly) between two real
aiortc peers on loopback: what aiortc's own path would hand over, without its per-packet
queue and task; and the aiortc/aioice internals it relies on, checked against the installed
code (like test_aiortc_hooks.py)."""

from __future__ import annotations

import asyncio
import inspect
import os
import struct
from typing import Any

import aioice.ice
import aiortc.rtcdtlstransport
import pylibsrtp
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.rtp import RtpPacket, is_rtcp

from media import aiortc_hooks as hooks
from media import aiortc_receiver as receiving
from media.aiortc_hooks import host_addresses
from tests.media.peers import LOOPBACK, PatternVideoTrack, ToneAudioTrack, client_pc

Dtls = aiortc.rtcdtlstransport.RTCDtlsTransport


@pytest.mark.parametrize(
    ("obj", "snippets"),
    [
        # aioice: a datagram that is not STUN goes to the connection's queue, nothing else
        (
            aioice.ice.StunProtocol.datagram_received,
            ["message = stun.parse_message(data)", "self.receiver.data_received(data, self."],
        ),
        (aioice.ice.Connection.__init__, ["self._protocols: list[StunProtocol] = []"]),
        (
            aiortc.rtcicetransport.RTCIceTransport.__init__,
            ["self._connection = gatherer._connection"],
        ),
        # aiortc: SRTP after the handshake, unprotected with _rx_srtp, routed by the router
        (Dtls._setup_srtp, ["self._rx_srtp = Session(rx_policy)"]),
        (
            Dtls.start,
            ["self._set_state(State.CONNECTED)\n        self._task = asyncio.ensure_future"],
        ),
        (
            Dtls._recv_next,
            [
                "elif first_byte > 127 and first_byte < 192 and self._rx_srtp:",
                "if is_rtcp(data):",
                "data = self._rx_srtp.unprotect(data)",
            ],
        ),
        (
            Dtls._handle_rtp_data,
            [
                "RtpPacket.parse(data, self._rtp_header_extensions_map)",
                "receiver = self._rtp_router.route_rtp(packet)",
            ],
        ),
        (aiortc.rtp.is_rtcp, ["msg[1] >= 192 and msg[1] <= 208"]),
    ],
)
def test_the_direct_path_hooks_are_still_there(obj: Any, snippets: list[str]) -> None:
    source = inspect.getsource(obj)
    for snippet in snippets:
        assert snippet in source, f"{obj.__qualname__} changed: {snippet!r} is gone"


def _session(key: bytes, inbound: bool) -> pylibsrtp.Session:
    kind = pylibsrtp.Policy.SSRC_ANY_INBOUND if inbound else pylibsrtp.Policy.SSRC_ANY_OUTBOUND
    return pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=kind))


def test_direct_srtp_unprotection_matches_pylibsrtp() -> None:
    key = os.urandom(30)
    sender, reference, session = (
        _session(key, False),
        _session(key, True),
        _session(key, True),
    )
    unprotect = hooks.srtp_unprotector(session)
    assert unprotect is not session.unprotect
    for seq in range(100):
        packet = struct.pack("!BBHII", 0x80, 97, seq, seq * 3000, 42) + os.urandom(seq * 6)
        protected = sender.protect(packet)
        assert unprotect(protected) == reference.unprotect(protected) == packet
    with pytest.raises(pylibsrtp.Error):  # the same packet twice: libsrtp's replay check
        unprotect(protected)
    with pytest.raises(pylibsrtp.Error):  # tampered: authentication fails
        unprotect(protected[:-1] + bytes([protected[-1] ^ 1]))


async def _pair(
    on_rtp: dict[str, receiving.RawRtpCallback],
) -> tuple[RTCPeerConnection, RTCPeerConnection, list[RTCRtpReceiver]]:
    """A publisher (video and audio) and a subscriber whose receivers go direct."""
    publisher, subscriber = client_pc(), client_pc()
    publisher.addTrack(PatternVideoTrack())
    publisher.addTrack(ToneAudioTrack())
    with host_addresses(LOOPBACK):
        await publisher.setLocalDescription(await publisher.createOffer())
    await subscriber.setRemoteDescription(publisher.localDescription)
    receivers = []
    for transceiver in subscriber.getTransceivers():
        receiving.receive_rtp_directly(transceiver.receiver, on_rtp[transceiver.kind])
        receivers.append(transceiver.receiver)
    with host_addresses(LOOPBACK):
        await subscriber.setLocalDescription(await subscriber.createAnswer())
    answer = subscriber.localDescription
    await publisher.setRemoteDescription(RTCSessionDescription(answer.sdp, answer.type))
    return publisher, subscriber, receivers


async def test_two_receivers_get_every_packet_straight_off_the_socket() -> None:
    seen: dict[str, list[tuple[int, int, int, bytes]]] = {"video": [], "audio": []}
    enough = asyncio.Event()

    def counter(kind: str) -> receiving.RawRtpCallback:
        def on_rtp(ssrc: int, seq: int, marker: int, payload: bytes) -> None:
            seen[kind].append((ssrc, seq, marker, payload))
            if len(seen["video"]) >= 30 and len(seen["audio"]) >= 30:
                enough.set()

        return on_rtp

    # aiortc's own handler must see nothing once the direct path is in: the handshake's
    # statechange installs it before the DTLS receive task reads a datagram
    slow: list[int] = []
    original = receiving.count_rtp

    def spy(receiver: RTCRtpReceiver, on_packet: receiving.PacketCallback) -> None:
        def on(packet: RtpPacket, at: int) -> None:
            slow.append(packet.sequence_number)
            on_packet(packet, at)

        original(receiver, on)

    receiving.count_rtp = spy
    try:
        publisher, subscriber, receivers = await _pair(
            {"video": counter("video"), "audio": counter("audio")}
        )
    finally:
        receiving.count_rtp = original
    try:
        async with asyncio.timeout(30):
            await enough.wait()
        dtls = receivers[0].transport
        assert all(r.transport is dtls for r in receivers)  # bundled: one transport
        counts = receiving.direct_receive_counts(dtls)
        assert counts is not None
        packets, dropped = counts
        assert dropped == 0
        assert packets == len(seen["video"]) + len(seen["audio"])
        assert slow == []
        for kind in ("video", "audio"):
            ssrcs = {s for s, *_ in seen[kind]}
            assert len(ssrcs) == 1
            sequence = [seq for _, seq, _, _ in seen[kind]]
            assert sequence == [(sequence[0] + i) & 0xFFFF for i in range(len(sequence))]
            assert all(payload for *_, payload in seen[kind])
        # VP8 payload descriptors start every video payload; the first packet starts a frame
        assert seen["video"][0][3][0] & 0x10
        assert any(marker for _, _, marker, _ in seen["video"])
    finally:
        await publisher.close()
        await subscriber.close()


async def test_other_datagrams_go_to_aiortc_and_bad_ones_are_dropped() -> None:
    flowing = asyncio.Event()

    def on_rtp(ssrc: int, seq: int, marker: int, payload: bytes) -> None:
        flowing.set()

    publisher, subscriber, receivers = await _pair({"video": on_rtp, "audio": on_rtp})
    try:
        async with asyncio.timeout(30):
            await flowing.wait()
        dtls = receivers[0].transport
        connection = dtls.transport._connection
        protocol = connection._protocols[0]
        before = receiving.direct_receive_counts(dtls)
        assert before is not None
        forwarded: list[bytes] = []
        connection.data_received = lambda data, component: forwarded.append(data)  # type: ignore[method-assign]
        rtcp = bytes([0x81, 201, 0, 1]) + bytes(4)
        assert is_rtcp(rtcp)
        protocol.datagram_received(rtcp, ("127.0.0.1", 9))  # RTCP: aiortc's path
        protocol.datagram_received(bytes([23]) + bytes(20), ("127.0.0.1", 9))  # DTLS
        assert forwarded == [rtcp, bytes([23]) + bytes(20)]
        # SRTP that fails authentication: dropped quietly, as aiortc drops it
        protocol.datagram_received(bytes([0x80, 97]) + bytes(40), ("127.0.0.1", 9))
        after = receiving.direct_receive_counts(dtls)
        assert after is not None
        assert after[1] == before[1] + 1
    finally:
        await publisher.close()
        await subscriber.close()
