"""Offers as the router reads them: codec pinning, bitrate caps, trickled candidates."""

from __future__ import annotations

import re

import pytest
from aiortc import RTCPeerConnection, RTCRtpSender

from media.aiortc_hooks import host_addresses
from media.errors import MediaError
from media.sdp import CodecSpec, cap_bitrate, parse_candidate, parse_sections
from tests.media.peers import LOOPBACK, PatternVideoTrack, ToneAudioTrack, client_pc


async def offer_of(pc: RTCPeerConnection) -> str:
    with host_addresses(LOOPBACK):
        await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def only(sdp: str, kind: str, keep: str) -> str:
    """Keep only the payload types whose rtpmap matches ``keep`` in the ``kind`` m-line."""
    lines = sdp.splitlines()
    allowed = {m.group(1) for m in (re.match(r"a=rtpmap:(\d+) " + keep, x) for x in lines) if m}
    out, section = [], ""
    for line in lines:
        if line.startswith("m="):
            section = line[2:].split()[0]
            if section == kind:
                fields = line.split()
                line = " ".join(fields[:3] + [p for p in fields[3:] if p in allowed])
        attribute = re.match(r"a=(?:rtpmap|fmtp|rtcp-fb):(\d+)", line)
        if section == kind and attribute and attribute.group(1) not in allowed:
            continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


async def test_sections_of_an_aiortc_offer() -> None:
    pc = client_pc()
    pc.addTrack(PatternVideoTrack())
    pc.addTrack(ToneAudioTrack())
    sections = parse_sections(await offer_of(pc))
    assert [(s.kind, s.mid, s.direction, s.sending) for s in sections] == [
        ("video", "0", "sendrecv", True),
        ("audio", "1", "sendrecv", True),
    ]
    assert sections[0].codec is not None
    assert sections[0].codec.mime_type == "video/vp8"
    assert sections[1].codec is not None
    assert sections[1].codec.mime_type == "audio/opus"
    assert sections[0].ufrag
    assert sections[0].ufrag == sections[1].ufrag


async def test_h264_when_no_vp8_and_nothing_without_opus() -> None:
    pc = client_pc()
    pc.addTrack(PatternVideoTrack())
    pc.addTrack(ToneAudioTrack())
    sdp = await offer_of(pc)
    h264 = parse_sections(only(sdp, "video", "(H264|rtx)"))[0].codec
    assert h264 is not None
    assert h264.mime_type == "video/h264"
    assert dict(h264.parameters)["packetization-mode"] == "1"
    assert [c.mimeType for c in h264.preferences()] == ["video/H264", "video/rtx"]
    assert parse_sections(only(sdp, "audio", "PCMU"))[1].codec is None


def test_preferences_refuse_codecs_aiortc_cannot_send() -> None:
    with pytest.raises(MediaError) as err:
        CodecSpec("video", "video/av1", 90000, None, ()).preferences()
    assert err.value.code == "unsupported_media"
    opus = next(c for c in RTCRtpSender.getCapabilities("audio").codecs if c.name == "opus")
    assert CodecSpec("audio", "audio/opus", 48000, 2, ()).preferences() == [opus]


@pytest.mark.parametrize(
    "bad",
    [
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",  # no mid
        "v=0\r\nm=video x\r\n",
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 opus\r\n",
    ],
)
def test_unparseable_or_mid_less_offers_are_refused(bad: str) -> None:
    with pytest.raises(MediaError) as err:
        parse_sections(bad)
    assert err.value.code == "invalid_sdp"


def test_text_without_m_lines_has_no_sections() -> None:
    assert parse_sections("") == parse_sections("hello") == []


def test_cap_bitrate_replaces_b_lines_after_c() -> None:
    sdp = (
        "\r\n".join(
            [
                "v=0",
                "m=audio 9 UDP/TLS/RTP/SAVPF 96",
                "c=IN IP4 127.0.0.1",
                "a=mid:0",
                "m=video 9 UDP/TLS/RTP/SAVPF 97",
                "c=IN IP4 127.0.0.1",
                "b=AS:9000",
                "a=mid:1",
            ]
        )
        + "\r\n"
    )
    capped = cap_bitrate(sdp, video_kbps=1500, audio_kbps=0).split("\r\n")
    assert capped[5:8] == ["c=IN IP4 127.0.0.1", "b=AS:1500", "b=TIAS:1500000"]
    assert "b=AS:9000" not in capped
    assert capped[1:4] == ["m=audio 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 127.0.0.1", "a=mid:0"]
    both = cap_bitrate(sdp, video_kbps=1000, audio_kbps=64)
    assert both.count("b=AS:") == 2
    assert "b=TIAS:64000" in both


def test_trickled_candidates() -> None:
    line = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"
    parsed = parse_candidate({"candidate": line, "sdpMid": "0", "usernameFragment": "abcd"})
    assert parsed.candidate is not None
    assert (parsed.candidate.ip, parsed.candidate.port, parsed.candidate.type) == (
        "127.0.0.1",
        50000,
        "host",
    )
    assert (parsed.candidate.sdpMid, parsed.ufrag) == ("0", "abcd")
    bare = parse_candidate({"candidate": "a=" + line})
    assert bare.candidate is not None
    assert bare.candidate.sdpMLineIndex == 0
    assert parse_candidate(None).candidate is None
    assert parse_candidate({"candidate": ""}).candidate is None
    for bad in ({"candidate": "candidate:1 1 udp"}, {"candidate": 5}):
        with pytest.raises(MediaError) as err:
            parse_candidate(bad)
        assert err.value.code == "invalid_candidate"
