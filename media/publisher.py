"""A participant's sending side: the peer connection that answers their offers.

Each audio/video m-line the participant offers becomes, while they send on it, one
:class:`media.fanout.TrackFanout`. Before aiortc sees the offer, the publisher creates a
``recvonly`` transceiver per new m-line with its codec pinned (Opus; VP8, else H.264) and taps
its receiver: every RTP packet goes to the track's fan-out as it arrives
(:func:`media.aiortc_receiver.tap_rtp`), and the frames aiortc reassembles go there too, for
the recorder, instead of to a decoder (:func:`media.aiortc_receiver.tap_receiver`). The
answer caps the publisher's bitrate (``b=AS``/``b=TIAS``).

Re-offers (a track added, or an m-line no longer sending) are answered on the same
connection; the router is told through ``on_track``/``on_track_ended``. An offer from another
peer connection (other ICE credentials: the camera turned off and on, a device switched, the
page reloaded) cannot be a re-offer: :meth:`Publisher.is_from_another_connection` tells the
router, which replaces this publisher with a new one.

A participant publishes their camera and microphone on one connection and a screen they share
on another (``source``, :mod:`media.sources`): each is a ``Publisher``.

A *relay* publisher is another media worker re-sending a room's tracks (a room spread over
several workers): each of its m-lines names, in ``a=msid``, the participant who published the
track (and its source) and the track's id, and the tracks it creates keep those names, so
subscribers here see the original publisher (and never receive their own media back).

A connection that fails or closes by itself (not through :meth:`Publisher.close`) calls
``on_failed`` once; the owner tears the publisher down and tells the participant.

Owner's duty: ``await close()``; it ends every track (``on_track_ended`` runs for each) and
closes the connection.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiortc import RTCIceCandidate, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.rtp import RtpPacket

from media.aiortc_receiver import FrameTap, on_audio_level, request_keyframe, tap_receiver, tap_rtp
from media.config import RouterConfig
from media.errors import MediaError
from media.fanout import TrackFanout
from media.layers import LAYER_NAMES
from media.sdp import CodecSpec, MediaSection, cap_bitrate, parse_sections
from media.sources import Source, parse_stream_id

__all__ = ["Publisher"]

log = logging.getLogger("liveclass.media.publisher")

_serials = itertools.count(1)


@dataclass(slots=True)
class _Input:
    """One receiving m-line: its transceiver, pinned codec, tap and current track."""

    transceiver: RTCRtpTransceiver
    codec: CodecSpec
    tap: FrameTap | None = None
    fanout: TrackFanout | None = None
    fanouts: list[TrackFanout] = field(default_factory=list)  # every one made, for close()
    #: For a lower layer of a layered camera: the top layer's fan-out, whose ``layers`` it
    #: is in (a lower layer is no track of its own).
    top: TrackFanout | None = None


class Publisher:
    """The peer connection receiving one participant's media."""

    def __init__(
        self,
        participant_id: str,
        config: RouterConfig,
        *,
        on_track: Callable[[TrackFanout], None],
        on_track_ended: Callable[[TrackFanout], None],
        on_failed: Callable[[], None],
        relay: bool = False,
        source: Source = "camera",
        on_audio_level: Callable[[int], None] | None = None,
    ) -> None:
        self.participant_id = participant_id
        #: Each audio packet's RFC 6464 level (0 loudest … 127 silence), for active speakers.
        self._on_audio_level = on_audio_level
        self.relay = relay
        #: What this connection publishes (a participant may publish a camera and a screen).
        self.source: Source = source
        self._config = config
        self._on_track = on_track
        self._on_track_ended = on_track_ended
        self.pc = RTCPeerConnection(config.rtc_configuration())
        self._inputs: list[_Input] = []
        self._lock = asyncio.Lock()
        self._pending_candidates: list[RTCIceCandidate | None] = []
        #: The layer each video m-line carries (mid -> ``low``/``high``), as the offer said.
        self._layers: dict[str, str] = {}
        self._closed = False

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            # "closed" without our close(): aioice gave up on the connection (consent checks
            # went unanswered, say, on an overloaded worker); "failed": ICE never connected.
            # Either way the publisher is gone and must be torn down and reported.
            if self.pc.connectionState in ("failed", "closed") and not self._closed:
                on_failed()

    @property
    def tracks(self) -> list[TrackFanout]:
        return [i.fanout for i in self._inputs if i.fanout is not None]

    @property
    def taps(self) -> list[FrameTap]:
        return [i.tap for i in self._inputs if i.tap is not None]

    @property
    def remote_ufrags(self) -> set[str]:
        description = self.pc.remoteDescription
        if description is None:
            return set()
        return {s.ufrag for s in parse_sections(description.sdp) if s.ufrag}

    def is_from_another_connection(self, offer_sdp: str) -> bool:
        """Whether ``offer_sdp`` comes from a peer connection other than the one this publisher
        negotiated with (its ICE credentials differ), or this one is gone (closed or failed):
        either way the offer starts a new publication rather than renegotiating this one. A
        publisher still answering its first offer is replaced too: the newer connection wins,
        as the client has dropped the older one."""
        if self.pc.connectionState in ("closed", "failed") or self.pc.signalingState == "closed":
            return True
        offered = {s.ufrag for s in parse_sections(offer_sdp) if s.ufrag}
        return not offered & self.remote_ufrags

    async def negotiate(self, offer_sdp: str, layers: Mapping[str, str] | None = None) -> str:
        """Answer the participant's offer (first or re-offer); returns the answer SDP.

        ``layers`` (mid -> ``low`` or ``high``): the offer's video m-lines that carry one
        camera as separate encodings (:mod:`media.layers`); they become one track whose
        subscribers each get one layer. Mids it names that are no video m-line of the offer,
        or a single layer, are ignored (the video is then forwarded as sent). A re-offer
        without ``layers`` keeps those of the previous offer."""
        sections = parse_sections(offer_sdp)
        if not sections:
            raise MediaError("invalid_sdp", "the offer has no audio or video m-line")
        async with self._lock:
            if self._closed:
                raise MediaError("closed", "the publisher is closed")
            if self.pc.signalingState != "stable":
                raise MediaError("invalid_sdp", "an offer is already being answered")
            if layers:
                video = {s.mid for s in sections if s.kind == "video"}
                named = {m: n for m, n in layers.items() if m in video and n in LAYER_NAMES}
                self._layers = named if len(set(named.values())) > 1 else {}
            known = {i.transceiver.mid for i in self._inputs}
            for section in sections:
                if section.mid in known:
                    continue
                if section.codec is None:
                    raise MediaError(
                        "unsupported_media",
                        f"m-line {section.mid} ({section.kind}) offers no forwardable codec "
                        "(audio needs Opus, video VP8 or H.264)",
                    )
                self._add_input(section.kind, section.codec)
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
                with self._config.ice_scope():
                    await self.pc.setLocalDescription(await self.pc.createAnswer())
            except Exception as exc:
                if self._closed:
                    raise MediaError("closed", "the publisher closed meanwhile") from exc
                raise MediaError("invalid_sdp", f"offer refused: {exc!r}") from exc
            if self._closed:  # close() ran while aiortc was busy: announce nothing
                raise MediaError("closed", "the publisher closed meanwhile")
            self._update_tracks(sections)
            for candidate in self._pending_candidates:
                await self.pc.addIceCandidate(candidate)
            self._pending_candidates.clear()
            return cap_bitrate(
                self.pc.localDescription.sdp,
                video_kbps=self._config.max_video_kbps,
                audio_kbps=self._config.max_audio_kbps,
            )

    def _add_input(self, kind: str, codec: CodecSpec) -> None:
        transceiver = self.pc.addTransceiver(kind, direction="recvonly")
        transceiver.setCodecPreferences(codec.preferences())
        entry = _Input(transceiver=transceiver, codec=codec)
        entry.tap = tap_receiver(
            transceiver.receiver,
            on_frame=lambda mime, _rate, data, ts: self._frame(entry, mime, data, ts),
            on_end=lambda: self._end_input(entry),
        )
        if kind == "audio" and self._on_audio_level is not None:
            on_audio_level(transceiver.receiver, self._on_audio_level)
        tap_rtp(transceiver.receiver, lambda packet, mime: self._packet(entry, packet, mime))
        self._inputs.append(entry)

    @staticmethod
    def _packet(entry: _Input, packet: RtpPacket, mime: str) -> None:
        if entry.fanout is not None:
            entry.fanout.push_rtp(packet, mime)

    @staticmethod
    def _frame(entry: _Input, mime: str, data: bytes, timestamp: int) -> None:
        if entry.fanout is not None:
            entry.fanout.push_encoded(mime, data, timestamp)

    def _identity(self, entry: _Input, section: MediaSection) -> tuple[str, str, Source]:
        """(publisher id, track id, source) of what ``section`` carries. Track ids are unique
        in the process, across publications: a camera turned off and on is a new track."""
        if self.relay and section.msid is not None:
            publisher_id, source = parse_stream_id(section.msid[0])
            return publisher_id, section.msid[1], source
        kind = entry.codec.kind if self.source == "camera" else f"{self.source}-{entry.codec.kind}"
        return self.participant_id, f"{self.participant_id}:{kind}:{next(_serials)}", self.source

    def _update_tracks(self, sections: list[MediaSection]) -> None:
        by_mid = {s.mid: s for s in sections}
        created: list[TrackFanout] = []
        for entry in self._inputs:
            section = by_mid.get(entry.transceiver.mid or "")
            sending = section is not None and section.sending
            if (
                sending
                and self.relay
                and entry.fanout is not None
                and section is not None
                and section.msid is not None
                and section.msid != (entry.fanout.stream_id, entry.fanout.track_id)
            ):
                self._end_input(entry)  # the relayed m-line now carries another track
            if sending and entry.fanout is None and not (entry.tap and entry.tap.stopped):
                assert section is not None
                publisher_id, track_id, source = self._identity(entry, section)
                fanout = TrackFanout(
                    track_id=track_id,
                    publisher_id=publisher_id,
                    source=source,
                    codec=entry.codec,
                    send_keyframe_request=functools.partial(
                        request_keyframe, entry.transceiver.receiver
                    ),
                    keyframe_interval=self._config.keyframe_interval,
                )
                entry.fanout = fanout
                entry.fanouts.append(fanout)
                created.append(fanout)
            elif not sending and entry.fanout is not None:
                self._end_input(entry)
        self._link_layers(created)
        for entry in self._inputs:
            if entry.fanout in created and entry.top is None:
                self._on_track(entry.fanout)

    def _link_layers(self, created: list[TrackFanout]) -> None:
        """Join the lower layers the offer named to their top layer's fan-out. Only a fan-out
        made by this offer joins (one announced as a track of its own stays one)."""
        layered = [
            (LAYER_NAMES.index(self._layers[mid]), entry)
            for entry in self._inputs
            if entry.fanout is not None and (mid := entry.transceiver.mid or "") in self._layers
        ]
        if len(layered) < 2:
            return
        layered.sort(key=lambda pair: pair[0])
        top = layered[-1][1].fanout
        assert top is not None
        for _, entry in layered[:-1]:
            if entry.top is None and entry.fanout in created:
                entry.top = top
        top.layers = [e.fanout for _, e in layered if e.fanout is not None and e.top is top]
        top.layers.append(top)

    def _end_input(self, entry: _Input) -> None:
        fanout, entry.fanout = entry.fanout, None
        top, entry.top = entry.top, None
        if fanout is None or fanout.ended:
            return
        if top is not None:  # a lower layer: its subscribers move to another layer
            top.drop_layer(fanout)
            fanout.end()
            return
        fanout.end()
        self._on_track_ended(fanout)
        for lower in fanout.layers[:-1]:
            for other in self._inputs:
                if other.fanout is lower:
                    self._end_input(other)

    async def add_ice(self, candidate: RTCIceCandidate | None) -> None:
        """A trickled remote candidate (kept until the offer has been applied)."""
        if self.pc.remoteDescription is None:
            self._pending_candidates.append(candidate)
            return
        await self.pc.addIceCandidate(candidate)

    async def close(self) -> None:
        """End every track and close the connection. Does not wait for a negotiation in
        progress (that one then fails with ``closed``)."""
        if self._closed:
            return
        self._closed = True
        for entry in self._inputs:
            self._end_input(entry)
        for entry in self._inputs:
            for fanout in entry.fanouts:
                await fanout.close()
        await self.pc.close()
