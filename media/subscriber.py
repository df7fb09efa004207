"""A participant's receiving side: the peer connection the server offers.

Every published track of the room (except the participant's own) gets an m-line here, fed by
a :class:`media.forwarding.ForwardedTrack` and a stock ``RTCRtpSender``: the track forwards
RTP through the sender's :class:`media.aiortc_outlet.RtpOutlet` (or, with
``RouterConfig.forwarding == "frames"``, yields frames the sender only packetizes,
:func:`media.aiortc_hooks.install_packet_only_encoder`). The msid of each m-line
is ``<stream id> <track id>``, the stream id being the publisher's participant id for their
camera and ``<participant id>:screen`` for a screen they share (:mod:`media.sources`), so
clients know whose media a track carries and what it shows.

Negotiation is server-initiated and serialized: when tracks appear or go
(:meth:`Subscriber.tracks_changed`) a background task waits until no offer is outstanding,
brings the transceivers in line (a freed m-line becomes ``inactive`` and is reused by the next
track of the same codec; aiortc cannot remove m-lines) and hands the new offer to
``on_offer``. The client answers through :meth:`Subscriber.accept_answer`. ICE: aiortc puts
all its candidates in the offer; trickled client candidates are accepted at any time.

Every offer (:class:`Offer`) carries an id, unique across connections and workers, and the id of
the connection it belongs to. An answer that names an offer other than the outstanding one is
stale (it answers a connection replaced since, say after a failover) and is refused with
``stale_answer`` instead of being applied to the wrong negotiation. A client that receives an
offer for a connection other than the one its receiving peer connection negotiated with
answers it on a new peer connection (offers of a replaced and of a new server connection may
reach it in any order around a ``restart``).

Owner's duty: ``await close()`` (cancels the negotiation task, closes the connection).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCIceCandidate, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription

from media.aiortc_hooks import (
    PacketOnlyEncoder,
    install_packet_only_encoder,
    on_keyframe_request,
    on_receiver_feedback,
    set_msid,
)
from media.aiortc_outlet import RtpOutlet
from media.config import RouterConfig
from media.errors import MediaError
from media.fanout import TrackFanout
from media.forwarding import ForwardedTrack
from media.layers import LayerSelector
from media.probing import pace_padding, padding_outlet
from media.sdp import CodecSpec, parse_sections
from media.tasks import cancel_and_wait

__all__ = ["Offer", "Subscriber"]

log = logging.getLogger("liveclass.media.subscriber")

#: The fewest packets sent over which a share NACKed counts as a loss figure (a second or
#: two of video: a receiver starved of CPU for a moment should not look like a bad link).
_NACK_SAMPLE = 60
#: The same while trying a higher layer: a failed trial should end as soon as it shows.
_TRIAL_NACK_SAMPLE = 20


@dataclass(frozen=True, slots=True)
class Offer:
    """A server-initiated offer: its SDP, the id the answer must name (``offerId``), and the
    id of the server's connection it belongs to (``connectionId``)."""

    sdp: str
    id: str
    connection: str


@dataclass(slots=True)
class _Output:
    """One sending m-line: its transceiver, the track feeding it, its codec."""

    transceiver: RTCRtpTransceiver
    track: ForwardedTrack
    codec: CodecSpec
    encoder: PacketOnlyEncoder
    fresh: bool = False  # (re)assigned in the offer now outstanding
    #: The outlet's (packets sent, packets NACKed) at the last receiver report.
    nack_mark: tuple[int, int] = (0, 0)


class Subscriber:
    """The peer connection sending the room's media to one participant."""

    def __init__(
        self,
        participant_id: str,
        config: RouterConfig,
        *,
        tracks: Callable[[], Iterable[TrackFanout]],
        on_offer: Callable[[Offer], None],
        on_failed: Callable[[], None],
    ) -> None:
        self.participant_id = participant_id
        self._config = config
        self._tracks = tracks
        self._on_offer = on_offer
        self._on_failed = on_failed
        self.pc = RTCPeerConnection(config.rtc_configuration())
        #: Names this connection in every offer it makes (clients pair one peer connection
        #: with one server connection).
        self.connection_id = secrets.token_urlsafe(9)
        self._outputs: list[_Output] = []
        self._lock = asyncio.Lock()
        self._stable = asyncio.Event()
        self._stable.set()
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pending_candidates: list[RTCIceCandidate | None] = []
        self._closed = False
        self.offers = 0
        #: The id of the offer waiting for its answer (None when stable).
        self.pending_offer_id: str | None = None
        #: Which layer of layered cameras this connection gets (:mod:`media.layers`).
        self.selector = LayerSelector(config.layer_selector)
        self._pacer: asyncio.Task[None] | None = None

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            # "closed" without our close(): aioice gave up on the connection (consent lost)
            if self.pc.connectionState in ("failed", "closed") and not self._closed:
                on_failed()

    @property
    def outputs(self) -> list[ForwardedTrack]:
        return [o.track for o in self._outputs]

    @property
    def encoders(self) -> list[PacketOnlyEncoder]:
        return [o.encoder for o in self._outputs]

    @property
    def remote_ufrags(self) -> set[str]:
        description = self.pc.remoteDescription
        if description is None:
            return set()
        return {s.ufrag for s in parse_sections(description.sdp) if s.ufrag}

    def describe(self) -> list[dict[str, Any]]:
        """What each m-line carries: ``mid``, ``kind``, ``publisher``, ``track``, ``source``
        (None when inactive). Meant to travel with offers so a client can label what it receives."""
        out = []
        for o in self._outputs:
            source = o.track.source
            out.append(
                {
                    "mid": o.transceiver.mid,
                    "kind": o.codec.kind,
                    "publisher": source.publisher_id if source else None,
                    "track": source.track_id if source else None,
                    "source": source.source if source else None,
                }
            )
        return out

    async def start(self) -> Offer | None:
        """The first offer (None when there is nothing to receive yet: an offer will come
        through ``on_offer`` once there is); starts the renegotiation task."""
        offer = await self._offer()
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(
                self._negotiate(), name=f"media-negotiate-{self.participant_id}"
            )
        return offer

    def tracks_changed(self) -> None:
        """The room's tracks changed: renegotiate as soon as no offer is outstanding."""
        self._dirty.set()

    async def _negotiate(self) -> None:
        while True:
            await self._dirty.wait()
            await self._stable.wait()
            self._dirty.clear()
            try:
                offer = await self._offer()
            except Exception:
                if self._closed or self.pc.connectionState == "closed":
                    return  # closed meanwhile (the participant left, the room ended)
                log.exception("renegotiation of %s failed", self.participant_id)
                self._on_failed()
                return
            if offer is not None:
                self._on_offer(offer)

    async def _offer(self) -> Offer | None:
        async with self._lock:
            if self._closed or not self._sync():
                return None
            offer = await self.pc.createOffer()
            with self._config.ice_scope():
                await self.pc.setLocalDescription(offer)
            if self._closed:
                return None
            self._stable.clear()
            self.offers += 1
            self.pending_offer_id = secrets.token_urlsafe(9)
            return Offer(self.pc.localDescription.sdp, self.pending_offer_id, self.connection_id)

    def _sync(self) -> bool:
        """Bring the m-lines in line with the room's tracks; whether anything changed."""
        desired = [
            t for t in self._tracks() if t.publisher_id != self.participant_id and not t.ended
        ]
        wanted = set(desired)
        changed = False
        for output in self._outputs:
            source = output.track.source
            if source is not None and source not in wanted:
                output.track.switch(None)
            if output.track.source is None and output.transceiver.direction != "inactive":
                output.transceiver.direction = "inactive"
                output.fresh = False
                changed = True
        assigned = {o.track.source for o in self._outputs if o.track.source is not None}
        for track in desired:
            if track in assigned:
                continue
            free = next(
                (o for o in self._outputs if o.track.source is None and o.codec == track.codec),
                None,
            )
            output = free if free is not None else self._add_output(track.codec)
            output.track.level = self.selector.level
            output.track.switch(track)
            set_msid(output.transceiver.sender, track.stream_id, track.track_id)
            output.transceiver.direction = "sendonly"
            output.fresh = True
            changed = True
        return changed

    def _add_output(self, codec: CodecSpec) -> _Output:
        capacity = (
            self._config.video_queue_frames
            if codec.kind == "video"
            else self._config.audio_queue_frames
        )
        track = ForwardedTrack(
            codec.kind, clock_rate=codec.clock_rate, capacity=capacity, mime_type=codec.mime_type
        )
        transceiver = self.pc.addTransceiver(track, direction="sendonly")
        transceiver.setCodecPreferences(codec.preferences())
        if self._config.forwarding == "rtp":
            track.outlet = RtpOutlet(transceiver.sender)
        encoder = install_packet_only_encoder(transceiver.sender, codec.mime_type)
        on_keyframe_request(transceiver.sender, track.on_remote_keyframe_request)
        if codec.kind == "video" and track.outlet is not None:
            on_receiver_feedback(
                transceiver.sender,
                lambda loss, remb, rtx_loss, rtt: self._feedback(output, loss, remb, rtx_loss, rtt),
            )
        output = _Output(transceiver=transceiver, track=track, codec=codec, encoder=encoder)
        self._outputs.append(output)
        return output

    def _feedback(
        self,
        output: _Output,
        loss: float | None,
        remb: int | None,
        rtx_loss: float | None,
        rtt: float | None,
    ) -> None:
        """The client reported loss or a bandwidth estimate: pick the level of its layered
        video (one level for all of it: the link is shared). The loss taken is the larger of
        the report's and the share of packets NACKed since the last figure (a receiver
        report counts retransmitted packets as received, hiding a link that drops; NACKs
        also tell sooner). Padding for a probe goes out on the first layered output that
        can send it; only its RTX report tells the padding's loss."""
        outlet = output.track.outlet
        if isinstance(outlet, RtpOutlet):
            # NACKs tell before the next receiver report does (REMB comes more often)
            sent, nacked = outlet.sent, outlet.nacked
            last_sent, last_nacked = output.nack_mark
            sample = _TRIAL_NACK_SAMPLE if self.selector.in_trial else _NACK_SAMPLE
            if sent - last_sent >= sample:
                output.nack_mark = (sent, nacked)
                nack_loss = min(1.0, (nacked - last_nacked) / (sent - last_sent))
                loss = nack_loss if loss is None else max(loss, nack_loss)
        videos = [
            o for o in self._outputs if o.codec.kind == "video" and o.track.source is not None
        ]
        sources = [o.track.source for o in videos if o.track.source is not None]
        depth = max((len(s.layers) for s in sources), default=0)
        if depth < 2:
            return
        levels = [sum(s.layer_at(i).meter.bps for s in sources) for i in range(depth)]
        pad = padding_outlet(o.track for o in videos)
        level = self.selector.feedback(
            levels,
            loss=loss,
            remb=remb,
            probe_loss=rtx_loss if pad is outlet else None,
            rtt=rtt,
            can_probe=pad is not None,
        )
        for o in videos:
            if o.track.level != level:
                o.track.set_level(level)
        if self.selector.probing and pad is not None and self._pacer is None:
            self._pacer = asyncio.get_running_loop().create_task(
                self._probe(pad), name=f"media-probe-{self.participant_id}"
            )

    async def _probe(self, outlet: RtpOutlet) -> None:
        try:
            await pace_padding(self.selector, outlet, self.participant_id)
        finally:
            self._pacer = None

    async def accept_answer(self, answer_sdp: str, offer_id: str | None = None) -> None:
        """The client's answer to the outstanding offer. ``offer_id`` (the ``offerId`` the
        offer carried) is checked when given: an answer to any other offer raises
        ``stale_answer`` and changes nothing. Without it the answer is taken as the
        outstanding offer's (clients that do not echo the id)."""
        async with self._lock:
            if self._closed:
                raise MediaError("closed", "the subscriber is closed")
            if offer_id is not None and offer_id != self.pending_offer_id:
                raise MediaError("stale_answer", "that answer is for an offer no longer pending")
            if self.pc.signalingState != "have-local-offer":
                raise MediaError("no_offer_pending", "no offer is waiting for an answer")
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
            except Exception as exc:
                if self._closed:
                    raise MediaError("closed", "the subscriber closed meanwhile") from exc
                raise MediaError("invalid_sdp", f"answer refused: {exc!r}") from exc
            for candidate in self._pending_candidates:
                await self.pc.addIceCandidate(candidate)
            self._pending_candidates.clear()
            for output in self._outputs:
                if output.fresh:
                    output.fresh = False
                    output.track.restart()
            self.pending_offer_id = None
            self._stable.set()

    async def add_ice(self, candidate: RTCIceCandidate | None) -> None:
        """A trickled client candidate (kept until the client's answer has been applied)."""
        if self.pc.remoteDescription is None:
            self._pending_candidates.append(candidate)
            return
        await self.pc.addIceCandidate(candidate)

    async def close(self) -> None:
        """Stop renegotiating, stop every track, close the connection. Does not wait for a
        negotiation step in progress (that one then fails with ``closed``)."""
        if self._closed:
            return
        self._closed = True
        await cancel_and_wait(self._task)
        self._task = None
        await cancel_and_wait(self._pacer)
        for output in self._outputs:
            output.track.stop()
        await self.pc.close()
