"""SDP on the router's side: reading offers, pinning codecs, capping bitrate, ICE candidates.

Pure functions over SDP text (parsed with aiortc's own parser, so what they see is what the
peer connection will see). Codec policy: the SFU never transcodes, so each published track is
pinned to exactly one codec every subscriber can take: Opus for audio; VP8 for video, or H.264
(packetization-mode 1, a profile aiortc knows) when the publisher offers no VP8.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiortc import RTCIceCandidate, RTCRtpCodecCapability, RTCRtpCodecParameters, RTCRtpSender
from aiortc import sdp as aiortc_sdp
from aiortc.codecs import CODECS
from aiortc.rtcpeerconnection import is_codec_compatible

from media.errors import MediaError

__all__ = [
    "CodecSpec",
    "MediaSection",
    "TrickledCandidate",
    "cap_bitrate",
    "parse_candidate",
    "parse_sections",
]

#: Video codecs in order of preference; audio is Opus only.
_PREFERRED = {"audio": ("audio/opus",), "video": ("video/vp8", "video/h264")}
_SENDING = ("sendrecv", "sendonly")


@dataclass(frozen=True, slots=True)
class CodecSpec:
    """One codec as aiortc knows it: the identity of a forwarded track's bitstream.

    Two tracks can share a subscriber's m-line only if their specs are equal.
    """

    kind: str
    mime_type: str
    clock_rate: int
    channels: int | None
    parameters: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, kind: str, codec: RTCRtpCodecParameters) -> CodecSpec:
        params = tuple(sorted((str(k), str(v)) for k, v in codec.parameters.items()))
        return cls(kind, codec.mimeType.lower(), codec.clockRate, codec.channels, params)

    def preferences(self) -> list[RTCRtpCodecCapability]:
        """For ``RTCRtpTransceiver.setCodecPreferences``: this codec, plus RTX for video."""
        chosen: list[RTCRtpCodecCapability] = []
        rtx: list[RTCRtpCodecCapability] = []
        for cap in RTCRtpSender.getCapabilities(self.kind).codecs:
            mime = cap.mimeType.lower()
            if mime == self.mime_type and self._same_parameters(cap.parameters):
                chosen.append(cap)
            elif mime == "video/rtx":
                rtx.append(cap)
        if not chosen:
            raise MediaError("unsupported_media", f"aiortc cannot send {self.mime_type}")
        return chosen[:1] + rtx[:1]

    def _same_parameters(self, parameters: Mapping[str, object]) -> bool:
        return tuple(sorted((str(k), str(v)) for k, v in parameters.items())) == self.parameters


@dataclass(frozen=True, slots=True)
class MediaSection:
    """One audio/video m-line of a remote description.

    ``codec`` is the codec the router pins for it (None: nothing usable offered);
    ``sending`` says whether the remote side sends media on it; ``msid`` is its
    ``a=msid`` (stream id, track id), when it has one.
    """

    index: int
    kind: str
    mid: str
    direction: str
    codec: CodecSpec | None
    ufrag: str | None
    msid: tuple[str, str] | None = None

    @property
    def sending(self) -> bool:
        return self.direction in _SENDING


def parse_sections(sdp: str) -> list[MediaSection]:
    """The audio and video m-lines of ``sdp``, in order (data channels are skipped).

    Raises :class:`MediaError` ``invalid_sdp`` for text aiortc cannot parse or m-lines without
    a mid (aiortc needs one per m-line for BUNDLE).
    """
    try:
        description = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc raises ValueError, KeyError, AssertionError...
        raise MediaError("invalid_sdp", f"unparseable SDP: {exc!r}") from exc
    sections: list[MediaSection] = []
    for index, media in enumerate(description.media):
        if media.kind not in ("audio", "video"):
            continue
        mid = media.rtp.muxId
        if not mid:
            raise MediaError("invalid_sdp", f"m-line {index} has no mid")
        ufrag = media.ice.usernameFragment if media.ice is not None else None
        msid_parts = (media.msid or "").split()
        sections.append(
            MediaSection(
                index=index,
                kind=media.kind,
                mid=str(mid),
                direction=media.direction or "sendrecv",
                codec=choose_codec(media.kind, media.rtp.codecs),
                ufrag=ufrag,
                msid=(msid_parts[0], msid_parts[1]) if len(msid_parts) == 2 else None,
            )
        )
    return sections


def choose_codec(kind: str, offered: list[RTCRtpCodecParameters]) -> CodecSpec | None:
    """The pinned codec for an m-line offering ``offered``, or None."""
    for mime in _PREFERRED.get(kind, ()):
        for local in CODECS[kind]:
            if local.mimeType.lower() != mime:
                continue
            if any(is_codec_compatible(local, remote) for remote in offered):
                return CodecSpec.of(kind, local)
    return None


def cap_bitrate(sdp: str, *, video_kbps: int, audio_kbps: int) -> str:
    """``sdp`` with ``b=AS`` (kbps) and ``b=TIAS`` (bps) on its video and audio m-lines.

    Put in an answer, this caps what the remote peer sends (Chrome reads ``b=AS``, Firefox
    ``b=TIAS``). A cap of 0 leaves that kind alone. Existing ``b=`` lines of capped m-lines
    are replaced. The lines go right after the m-line's ``c=`` line, as RFC 4566 orders them.
    """
    caps = {"video": video_kbps, "audio": audio_kbps}
    newline = "\r\n" if "\r\n" in sdp else "\n"
    out: list[str] = []
    kind: str | None = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split(" ", 1)[0]
        cap = caps.get(kind or "", 0)
        if cap and line.startswith("b="):
            continue
        out.append(line)
        if cap and line.startswith("c="):
            out.append(f"b=AS:{cap}")
            out.append(f"b=TIAS:{cap * 1000}")
    return newline.join(out) + newline


@dataclass(frozen=True, slots=True)
class TrickledCandidate:
    """A remote ICE candidate as the client sent it; ``candidate`` None ends the candidates."""

    candidate: RTCIceCandidate | None
    ufrag: str | None


def parse_candidate(data: Mapping[str, object] | None) -> TrickledCandidate:
    """A browser's ``RTCIceCandidateInit`` (``candidate``, ``sdpMid``, ``sdpMLineIndex``,
    ``usernameFragment``) as an aiortc candidate.

    ``None``, or an empty ``candidate`` string, is end-of-candidates. Raises
    :class:`MediaError` ``invalid_candidate`` for anything else aiortc could not use.
    """
    if data is None:
        return TrickledCandidate(None, None)
    ufrag = data.get("usernameFragment")
    ufrag = ufrag if isinstance(ufrag, str) and ufrag else None
    text = data.get("candidate")
    if text is None or text == "":
        return TrickledCandidate(None, ufrag)
    if not isinstance(text, str):
        raise MediaError("invalid_candidate", "candidate must be a string")
    text = text.strip()
    for prefix in ("a=", "candidate:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    try:
        candidate = aiortc_sdp.candidate_from_sdp(text)
    except (AssertionError, ValueError, IndexError) as exc:
        raise MediaError("invalid_candidate", f"unparseable candidate: {text[:100]!r}") from exc
    mid = data.get("sdpMid")
    index = data.get("sdpMLineIndex")
    candidate.sdpMid = mid if isinstance(mid, str) else None
    candidate.sdpMLineIndex = index if isinstance(index, int) and index >= 0 else None
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0  # BUNDLE: every m-line shares one transport
    return TrickledCandidate(candidate, ufrag)
