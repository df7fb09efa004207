"""The private aiortc/aioice internals media/aiortc_hooks.py relies on, checked against the
installed code. If aiortc changes under us, these fail before any classroom does."""

from __future__ import annotations

import asyncio
import fractions
import inspect
import threading
import time
from typing import Any

import aioice.ice
import aiortc
import aiortc.rtcdtlstransport
import aiortc.rtcrtpreceiver
import pytest
from aiortc import (
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCRtpCodecParameters,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpDecodingParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpRtxParameters,
    RTCRtpSendParameters,
)
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender as SenderClass
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    HeaderExtensionsMap,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    is_rtcp,
    pack_remb_fci,
    wrap_rtx,
)
from av.packet import Packet

from media import aiortc_hooks as hooks
from media import aiortc_outlet as outlets
from media import aiortc_receiver as receiving
from media.fanout import MediaFrame, TrackFanout
from media.forwarding import ForwardedTrack
from media.sdp import CodecSpec
from tests.media.fake_ice import NominatedPair, PlainSrtp

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=96)
SSRC = 0x1234


def test_aiortc_is_the_pinned_version() -> None:
    assert aiortc.__version__ == hooks.AIORTC_VERSION == "1.16.0"


@pytest.mark.parametrize(
    ("obj", "snippets"),
    [
        (
            aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet,
            ["self.__decoder_queue.put((codec, encoded_frame))", "self.__decoder_thread"],
        ),
        (
            aiortc.rtcrtpreceiver.RTCRtpReceiver.receive,
            ["self.__decoder_queue,", "if not self.__started:"],
        ),
        (aiortc.rtcrtpreceiver.decoder_worker, ["task = input_q.get()", "if task is None:"]),
        (aiortc.rtcrtpreceiver.RTCRtpReceiver._send_rtcp_pli, ["media_ssrc=media_ssrc"]),
        (
            SenderClass._next_encoded_frame,
            ["if self.__encoder is None:", "self.__encoder.pack(data)"],
        ),
        (SenderClass._handle_rtcp_packet, ["RTCP_PSFB_PLI", "self._send_keyframe()"]),
        (
            aiortc.rtcpeerconnection.create_media_description_for_transceiver,
            ["transceiver.sender._stream_id", "transceiver.sender._track_id"],
        ),
        (aioice.ice.Connection.gather_candidates, ["get_host_addresses("]),
        (SenderClass._run_rtp, ["clock.current_ntp_time() >> 14", "clock.current_ntp_time()"]),
        (
            aiortc.rtcdtlstransport.RTCDtlsTransport._handle_rtp_data,
            ["await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)"],
        ),
        # tap_rtp: the codec and RTX maps it reads, and how aiortc unwraps RTX
        (
            aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet,
            [
                "codec = self.__codecs.get(packet.payload_type)",
                "original_ssrc = self.__rtx_ssrc.get(packet.ssrc)",
                "packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)",
            ],
        ),
        # RtpOutlet: what send() configures, the counters the sender reports read, NACKs
        (
            SenderClass.send,
            [
                "self.__rtp_header_extensions_map.configure(parameters)",
                "self._run_rtp(parameters.codecs[0])",
            ],
        ),
        (
            SenderClass._run_rtcp,
            [
                "ntp_timestamp=self.__ntp_timestamp",
                "rtp_timestamp=self.__rtp_timestamp",
                "packet_count=self.__packet_count & 0xFFFFFFFF",
                "octet_count=self.__octet_count & 0xFFFFFFFF",
            ],
        ),
        (SenderClass._handle_rtcp_packet, ["await self._retransmit(seq)"]),
        (
            aiortc.rtcdtlstransport.RTCDtlsTransport._send_rtp,
            ["if self._state != State.CONNECTED:", "data = self._tx_srtp.protect(data)"],
        ),
        (
            aioice.ice.Connection.sendto,
            [
                "active_pair = self._nominated.get(component)",
                "await active_pair.protocol.send_data(data, active_pair.remote_addr)",
            ],
        ),
        (aioice.ice.StunProtocol.send_data, ["self.transport.sendto(data, addr)"]),
        # on_receiver_feedback: RTCP reaches a sender through this method, and the router
        # hands it REMB and receiver reports
        (
            aiortc.rtcdtlstransport.RtpRouter.route_rtcp,
            ["rtp.unpack_remb_fci(packet.fci)", "for report in packet.reports"],
        ),
        (
            aiortc.rtcdtlstransport.RTCDtlsTransport._handle_rtcp_data,
            ["await recipient._handle_rtcp_packet(packet)"],
        ),
        # peer_hung_up: the DTLS transport's pyOpenSSL connection reads the peer's close_notify
        (
            aiortc.rtcdtlstransport.RTCDtlsTransport._recv_next,
            ["data = self._ssl.recv(1500)", "except SSL.ZeroReturnError:"],
        ),
        # on_receiver_feedback's round trip: when the last sender report went out
        (
            SenderClass._run_rtcp,
            ["self.__lsr = ((self.__ntp_timestamp) >> 16)", "self.__lsr_time = time.time()"],
        ),
        (aioice.ice.Connection.query_consent, ["return await self.close()"]),
    ],
)
def test_hooked_code_is_still_there(obj: Any, snippets: list[str]) -> None:
    source = inspect.getsource(obj)
    for snippet in snippets:
        assert snippet in source, f"{obj.__qualname__} no longer contains {snippet!r}"


def test_the_fast_clock_reads_what_aiortc_would() -> None:
    import aiortc.clock

    assert aiortc.clock.current_ntp_time is hooks.fast_ntp_time
    assert aiortc.clock.current_ms is hooks.fast_current_ms
    for _ in range(100):
        before = hooks._original_current_ntp_time()
        fast = hooks.fast_ntp_time()
        after = hooks._original_current_ntp_time()
        assert before <= fast + (1 << 32) // 1_000_000
        assert fast <= after + (1 << 32) // 1_000_000
        before_ms = hooks._original_current_ms()
        fast_ms = hooks.fast_current_ms()
        assert before_ms - 1 <= fast_ms <= hooks._original_current_ms() + 1
    # the same epoch and layout: aiortc's own conversion reads it back as now
    seconds = (
        aiortc.clock.datetime_from_ntp(hooks.fast_ntp_time()) - aiortc.clock.current_datetime()
    )
    assert abs(seconds.total_seconds()) < 0.01


def test_host_addresses_only_inside_the_context() -> None:
    assert aioice.ice.get_host_addresses is hooks._get_host_addresses
    default = aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True)
    assert "127.0.0.1" not in default  # aioice's own rule
    with hooks.host_addresses(["127.0.0.1", "::1"]):
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == default


async def test_gathering_in_the_context_uses_loopback() -> None:
    gatherer = RTCIceGatherer(iceServers=[])
    with hooks.host_addresses(["127.0.0.1"]):
        await gatherer.gather()
    try:
        assert [c.ip for c in gatherer.getLocalCandidates()] == ["127.0.0.1"]
    finally:
        await RTCIceTransport(gatherer).stop()


def _vp8_frame(keyframe: bool, size: int, fill: int) -> bytes:
    tag = bytes([0x00 if keyframe else 0x01, 0x00, 0x00])
    start = b"\x9d\x01\x2a" if keyframe else b"\x00\x00\x00"
    return tag + start + bytes([fill]) * (size - 6)


def _rtp(frame: bytes, seq: int, timestamp: int, picture_id: int) -> list[RtpPacket]:
    payloads = Vp8Encoder._packetize(frame, picture_id)
    packets = []
    for i, payload in enumerate(payloads):
        packet = RtpPacket(payload_type=97, sequence_number=seq + i, timestamp=timestamp)
        packet.ssrc = SSRC
        packet.payload = payload
        packet.marker = int(i == len(payloads) - 1)
        packets.append(packet)
    return packets


async def test_tapped_receiver_yields_encoded_frames_and_never_decodes(
    dtls: RTCDtlsTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoders: list[threading.Thread] = []
    monkeypatch.setattr(
        aiortc.rtcrtpreceiver,
        "get_decoder",
        lambda codec: decoders.append(threading.current_thread()),
    )
    receiver = RTCRtpReceiver("video", dtls)
    receiver._track = RemoteStreamTrack(kind="video")
    receiver._set_rtcp_ssrc(0x5678)
    frames: list[tuple[str, int, bytes, int]] = []
    ended: list[bool] = []
    tap = receiving.tap_receiver(
        receiver, lambda *frame: frames.append(frame), lambda: ended.append(True)
    )
    await receiver.receive(
        RTCRtpReceiveParameters(
            codecs=[VP8],
            encodings=[RTCRtpDecodingParameters(ssrc=SSRC, payloadType=97)],
            muxId="0",
        )
    )
    with pytest.raises(hooks.AiortcIncompatible):
        receiving.tap_receiver(receiver, lambda *_: None, lambda: None)  # too late: started
    sent = [_vp8_frame(True, 3000, 1), _vp8_frame(False, 500, 2), _vp8_frame(False, 400, 3)]
    seq, timestamp = 1000, 777_000
    for i, frame in enumerate(sent):
        for packet in _rtp(frame, seq, timestamp, picture_id=i):
            await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
            seq += 1
        timestamp += 3000
    # a frame is complete when the next one starts: the last one is still buffered
    assert frames == [
        ("video/VP8", 90000, sent[0], 0),
        ("video/VP8", 90000, sent[1], 3000),
    ]
    assert tap.frames == 2

    # PLI for the media SSRC seen
    rtcp: list[Any] = []

    async def capture(packet: Any) -> None:
        rtcp.append(packet)

    monkeypatch.setattr(receiver, "_send_rtcp", capture)
    assert await receiving.request_keyframe(receiver) == 1
    assert isinstance(rtcp[0], RtcpPsfbPacket)
    assert (rtcp[0].fmt, rtcp[0].media_ssrc) == (RTCP_PSFB_PLI, SSRC)

    thread = receiving.decoder_thread(receiver)
    assert thread is not None
    assert thread.is_alive()
    await receiver.stop()
    assert ended == [True]
    assert not thread.is_alive()
    assert decoders == []
    assert tap.decoded == 0


async def test_counted_receiver_sees_every_packet_and_reassembles_nothing(
    dtls: RTCDtlsTransport,
) -> None:
    receiver = RTCRtpReceiver("video", dtls)
    receiver._track = RemoteStreamTrack(kind="video")
    tap = receiving.tap_receiver(receiver, lambda *_: None, lambda: None)
    seen: list[tuple[int, int]] = []
    receiving.count_rtp(receiver, lambda packet, at: seen.append((packet.sequence_number, at)))
    await receiver.receive(
        RTCRtpReceiveParameters(
            codecs=[VP8],
            encodings=[RTCRtpDecodingParameters(ssrc=SSRC, payloadType=97)],
            muxId="0",
        )
    )
    sent = [_vp8_frame(True, 3000, 1), _vp8_frame(False, 500, 2)]
    packets = [p for i, f in enumerate(sent) for p in _rtp(f, 10 + 10 * i, 3000 * i, i)]
    for n, packet in enumerate(packets):
        await receiver._handle_rtp_packet(packet, arrival_time_ms=n)
    assert [s for s, _ in seen] == [p.sequence_number for p in packets]
    assert [at for _, at in seen] == list(range(len(packets)))
    assert tap.frames == 0  # nothing reached the jitter buffer
    await receiver.stop()


class _PacketTrack(aiortc.MediaStreamTrack):
    kind = "video"

    def __init__(self, packets: list[Packet[Any]]) -> None:
        super().__init__()
        self._packets = packets
        self.drained = asyncio.Event()

    async def recv(self) -> Packet[Any]:
        if not self._packets:
            self.drained.set()
            await asyncio.Event().wait()
        return self._packets.pop(0)


async def test_packet_only_sender_packetizes_and_reports_keyframe_requests(
    dtls: RTCDtlsTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoders: list[Any] = []
    monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", lambda c: encoders.append(c))
    sent_frames = [_vp8_frame(True, 2500, 7), _vp8_frame(False, 300, 8)]
    packets = []
    for i, data in enumerate(sent_frames):
        packet = Packet(data)
        packet.pts = i * 3000
        packet.time_base = fractions.Fraction(1, 90000)
        packets.append(packet)
    track = _PacketTrack(packets)
    sender = RTCRtpSender(track, dtls)
    encoder = hooks.install_packet_only_encoder(sender, "video/VP8")
    assert hooks.sender_encoder(sender) is encoder
    requests: list[bool] = []
    hooks.on_keyframe_request(sender, lambda: requests.append(True))
    hooks.set_msid(sender, "teacher", "teacher:video:1")

    wire: list[bytes] = []

    async def send_rtp(data: bytes) -> None:
        wire.append(data)

    monkeypatch.setattr(dtls, "_send_rtp", send_rtp)
    await sender.send(
        RTCRtpSendParameters(codecs=[VP8], muxId="0", rtcp=RTCRtcpParameters(cname="c"))
    )
    await asyncio.wait_for(track.drained.wait(), 5)
    rtp = [RtpPacket.parse(d) for d in wire if not is_rtcp(d)]
    assert len(rtp) == 3  # 2500 bytes: two packets, 300 bytes: one
    assert [p.marker for p in rtp] == [0, 1, 1]
    assert rtp[2].timestamp - rtp[0].timestamp == 3000
    assert {p.ssrc for p in rtp} == {sender._ssrc}
    reassembled = [b"", b""]
    for p in rtp:
        reassembled[0 if p.timestamp == rtp[0].timestamp else 1] += aiortc.codecs.vpx.vp8_depayload(
            p.payload
        )
    assert reassembled == sent_frames
    assert encoder.packed == 2
    assert encoder.encoded == 0
    assert encoders == []  # no codec object was ever made for this sender

    for fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
        await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=fmt, ssrc=1, media_ssrc=sender._ssrc))
    assert requests == [True, True]
    # what the receiver reports about this stream: loss and REMB, before aiortc's handling
    feedback: list[tuple[float | None, int | None, float | None, float | None]] = []
    hooks.on_receiver_feedback(sender, lambda *signal: feedback.append(signal))
    block = RtcpReceiverInfo(
        ssrc=sender._ssrc, fraction_lost=64, packets_lost=5, highest_sequence=9, jitter=0,
        lsr=0, dlsr=0,
    )  # fmt: skip
    other = RtcpReceiverInfo(
        ssrc=sender._ssrc + 1, fraction_lost=1, packets_lost=1, highest_sequence=9, jitter=0,
        lsr=0, dlsr=0,
    )  # fmt: skip
    rtx = RtcpReceiverInfo(
        ssrc=sender._rtx_ssrc, fraction_lost=32, packets_lost=1, highest_sequence=9, jitter=0,
        lsr=0, dlsr=0,
    )  # fmt: skip
    await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1, reports=[block, other]))
    await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1, reports=[rtx, block]))
    # a block answering the last sender report (sent 0.3 s ago; the receiver held it 0.1 s)
    sender._RTCRtpSender__lsr = 0x12345678  # type: ignore[attr-defined]
    sender._RTCRtpSender__lsr_time = time.time() - 0.3  # type: ignore[attr-defined]
    answering = RtcpReceiverInfo(
        ssrc=sender._ssrc, fraction_lost=0, packets_lost=5, highest_sequence=9, jitter=0,
        lsr=0x12345678, dlsr=65536 // 10,
    )  # fmt: skip
    await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1, reports=[answering]))
    rtt = feedback.pop()[3]
    assert rtt == pytest.approx(0.2, abs=0.05)
    remb = pack_remb_fci(300_000, [sender._ssrc])
    await sender._handle_rtcp_packet(
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=remb)
    )
    await sender._handle_rtcp_packet(
        RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=sender._ssrc)
    )
    assert feedback == [
        (0.25, None, None, None),  # no round trip: the block answers no sender report of ours
        (0.25, None, 0.125, None),
        (None, 300_000, None, None),
    ]
    assert requests == [True, True, True]  # aiortc's own handling still runs
    await sender.stop()
    assert any(is_rtcp(d) and RtcpPacket.parse(d) for d in wire)  # the BYE went out


def test_packet_only_encoder_refuses_frames_and_unknown_codecs() -> None:
    encoder = hooks.PacketOnlyEncoder("audio/opus")
    packet = Packet(b"\x01\x02")
    packet.pts = 960
    packet.time_base = fractions.Fraction(1, 48000)
    assert encoder.pack(packet) == ([b"\x01\x02"], 960)
    with pytest.raises(hooks.EncodingRefused):
        encoder.encode(None)  # type: ignore[arg-type]
    assert encoder.encoded == 1
    with pytest.raises(hooks.AiortcIncompatible):
        hooks.PacketOnlyEncoder("video/AV1")


async def test_install_refuses_a_started_sender(dtls: RTCDtlsTransport) -> None:
    sender = RTCRtpSender("audio", dtls)
    hooks.install_packet_only_encoder(sender, "audio/opus")
    with pytest.raises(hooks.AiortcIncompatible):
        hooks.install_packet_only_encoder(sender, "audio/opus")


class _WatchedTrack(ForwardedTrack):
    def __init__(self, kind: str, *, clock_rate: int, capacity: int) -> None:
        super().__init__(kind, clock_rate=clock_rate, capacity=capacity)
        self.pulled = asyncio.Event()

    async def recv(self) -> Packet[Any]:
        self.pulled.set()
        return await super().recv()


async def test_forwarded_track_through_a_real_sender(
    dtls: RTCDtlsTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ForwardedTrack (hold until keyframe) feeding a stock RTCRtpSender."""
    requests: list[bool] = []

    async def pli() -> None:
        requests.append(True)

    spec = CodecSpec("audio", "audio/opus", 48000, 2, ())
    fanout = TrackFanout(
        track_id="t",
        publisher_id="p",
        codec=spec,
        send_keyframe_request=pli,
        keyframe_interval=0,
    )
    track = _WatchedTrack("audio", clock_rate=48000, capacity=10)
    track.switch(fanout)
    sender = RTCRtpSender(track, dtls)
    hooks.install_packet_only_encoder(sender, "audio/opus")
    wire: list[bytes] = []
    got = asyncio.Event()

    async def send_rtp(data: bytes) -> None:
        if not is_rtcp(data):
            wire.append(data)
            if len(wire) == 3:
                got.set()

    monkeypatch.setattr(dtls, "_send_rtp", send_rtp)
    await sender.send(
        RTCRtpSendParameters(codecs=[OPUS], muxId="0", rtcp=RTCRtcpParameters(cname="c"))
    )
    await asyncio.wait_for(track.pulled.wait(), 5)  # the sender's RTP task has started
    for i in range(3):
        fanout.push(MediaFrame(bytes([i]) * 50, 100_000 + i * 960, True))
    await asyncio.wait_for(got.wait(), 5)
    rtp = [RtpPacket.parse(d) for d in wire]
    assert [p.payload for p in rtp] == [bytes([i]) * 50 for i in range(3)]
    assert [p.timestamp - rtp[0].timestamp for p in rtp] == [0, 960, 1920]
    assert requests == []  # audio never asks for keyframes
    await sender.stop()
    await fanout.close()


async def test_rtp_tap_sees_packets_first_unwraps_rtx_and_aiortc_still_reassembles(
    dtls: RTCDtlsTransport,
) -> None:
    receiver = RTCRtpReceiver("video", dtls)
    receiver._track = RemoteStreamTrack(kind="video")
    frames: list[bytes] = []
    receiving.tap_receiver(receiver, lambda _m, _r, data, _ts: frames.append(data), lambda: None)
    seen: list[tuple[int, int, str, bytes]] = []
    receiving.tap_rtp(
        receiver, lambda p, mime: seen.append((p.ssrc, p.sequence_number, mime, p.payload))
    )
    rtx = RTCRtpCodecParameters(
        mimeType="video/rtx", clockRate=90000, payloadType=98, parameters={"apt": 97}
    )
    await receiver.receive(
        RTCRtpReceiveParameters(
            codecs=[VP8, rtx],
            encodings=[
                RTCRtpDecodingParameters(
                    ssrc=SSRC, payloadType=97, rtx=RTCRtpRtxParameters(ssrc=SSRC + 1)
                )
            ],
            muxId="0",
        )
    )
    key = _rtp(_vp8_frame(True, 3000, 1), 10, 0, 1)
    delta = _rtp(_vp8_frame(False, 300, 2), 10 + len(key), 3000, 2)
    for n, packet in enumerate(key[:-1]):
        await receiver._handle_rtp_packet(packet, arrival_time_ms=n)
    # the key frame's last packet comes as a retransmission (RTX), after the next frame
    for packet in delta:
        await receiver._handle_rtp_packet(packet, arrival_time_ms=50)
    retransmission = wrap_rtx(key[-1], payload_type=98, sequence_number=7, ssrc=SSRC + 1)
    await receiver._handle_rtp_packet(retransmission, arrival_time_ms=60)
    unknown = RtpPacket(payload_type=111, sequence_number=1, timestamp=0)
    unknown.payload = b"x"
    await receiver._handle_rtp_packet(unknown, arrival_time_ms=61)

    order = [*key[:-1], *delta, key[-1]]
    assert seen == [(SSRC, p.sequence_number, "video/vp8", p.payload) for p in order]
    # aiortc's own handling still reassembles (the key frame, completed by the
    # retransmission; its jitter buffer lets a frame out once the next one has begun)
    assert frames == [_vp8_frame(True, 3000, 1)]
    await receiver.stop()


async def test_rtp_outlet_sends_rewritten_packets_answers_nacks_and_feeds_sender_reports(
    dtls: RTCDtlsTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    track = ForwardedTrack("video", clock_rate=90000, capacity=1)
    sender = RTCRtpSender(track, dtls)
    outlet = outlets.RtpOutlet(sender)
    track.outlet = outlet
    outlet.send(1, 2, 1, b"too early", 0)  # nothing negotiated yet
    pair = NominatedPair()
    monkeypatch.setattr(dtls, "_state", aiortc.rtcdtlstransport.State.CONNECTED)
    monkeypatch.setattr(dtls, "_tx_srtp", PlainSrtp())
    monkeypatch.setattr(dtls.transport._connection, "_nominated", {1: pair})
    rtx = RTCRtpCodecParameters(
        mimeType="video/rtx", clockRate=90000, payloadType=98, parameters={"apt": 97}
    )
    mid = RTCRtpHeaderExtensionParameters(id=3, uri="urn:ietf:params:rtp-hdrext:sdes:mid")
    ast = RTCRtpHeaderExtensionParameters(
        id=5, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    )
    parameters = RTCRtpSendParameters(
        codecs=[VP8, rtx],
        headerExtensions=[mid, ast],
        muxId="1",
        rtcp=RTCRtcpParameters(cname="c"),
    )
    await sender.send(parameters)
    extensions = HeaderExtensionsMap()
    extensions.configure(parameters)

    ntp = hooks.fast_ntp_time()
    outlet.send(65535, 4000, 1, b"payload", ntp)
    [wire] = [d for d in pair.datagrams if not is_rtcp(d)]
    sent = RtpPacket.parse(wire, extensions)
    assert (sent.ssrc, sent.payload_type, sent.sequence_number) == (sender._ssrc, 97, 65535)
    assert (sent.timestamp, sent.marker, sent.payload) == (4000, 1, b"payload")
    assert sent.extensions.mid == "1"
    assert sent.extensions.abs_send_time == (ntp >> 14) & 0xFFFFFF
    assert outlet.unsent == 1
    # what the sender's RTCP task puts in its sender reports
    assert sender._RTCRtpSender__packet_count == 1  # type: ignore[attr-defined]
    assert sender._RTCRtpSender__octet_count == len(b"payload")  # type: ignore[attr-defined]
    assert sender._RTCRtpSender__rtp_timestamp == 4000  # type: ignore[attr-defined]
    assert sender._RTCRtpSender__ntp_timestamp == ntp  # type: ignore[attr-defined]

    # a NACK from the subscriber: resent from the history as RTX; unknown numbers are not
    pair.datagrams.clear()
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sender._ssrc)
    nack.lost = [65535, 12]
    await sender._handle_rtcp_packet(nack)
    [wire] = pair.datagrams
    resent = RtpPacket.parse(wire, extensions)
    assert (resent.ssrc, resent.payload_type) == (sender._rtx_ssrc, 98)
    assert resent.payload == b"\xff\xff" + b"payload"
    assert outlet.retransmitted == 1
    # NACKed again at once (a receiver repeats every packet still missing): not resent yet
    await sender._handle_rtcp_packet(nack)
    assert outlet.retransmitted == 1
    assert outlet.nacked == 2  # distinct packets reported missing: the loss the link had

    # padding for probing: padding-only RTX packets at the last timestamp, with the
    # abs-send-time a receiver's bandwidth estimate reads
    pair.datagrams.clear()
    assert outlet.can_pad
    assert not outlet.send_padding(256, ntp)
    assert outlet.send_padding(255, ntp)
    assert outlet.send_padding(10, ntp)
    first, second = (RtpPacket.parse(d, extensions) for d in pair.datagrams)
    assert (first.ssrc, first.payload_type, first.timestamp) == (sender._rtx_ssrc, 98, 4000)
    assert (first.payload, first.padding_size, second.padding_size) == (b"", 255, 10)
    assert second.sequence_number == (first.sequence_number + 1) & 0xFFFF
    assert first.extensions.abs_send_time == (ntp >> 14) & 0xFFFFFF
    assert outlet.padding_sent == 265
    assert sender._RTCRtpSender__packet_count == 1  # type: ignore[attr-defined]
    track.stop()
    await sender.stop()
