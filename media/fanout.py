"""One published track fanned out to many subscriber tracks, as RTP packets or as frames.

:class:`TrackFanout` is one published track. Its publisher's receiver pushes every RTP packet
into it as it arrives (:func:`media.aiortc_receiver.tap_rtp`) and, once its jitter buffer has
reassembled one, every encoded frame (:func:`media.aiortc_receiver.tap_receiver`),
synchronously on the event loop. Packets go to the subscriber tracks that forward RTP
(``rtp_sinks``), frames to those that forward frames (``sinks``) and to the taps (the
recorder). The subscriber tracks are forwarded tracks (:mod:`media.forwarding`; this module
knows them as :class:`Sink`). A layered camera is one fan-out whose ``layers`` list
one per layer (:mod:`media.layers`).

Everything here runs on the event loop; nothing blocks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiortc.rtp import RtpPacket

from media.aiortc_hooks import fast_ntp_time
from media.bitstream import is_keyframe
from media.keyframes import KeyframeRequester
from media.layers import RateMeter
from media.rtp_forwarding import is_keyframe_start
from media.sdp import CodecSpec
from media.sources import Source, stream_id

__all__ = ["MediaFrame", "Sink", "TrackFanout"]


@dataclass(frozen=True, slots=True)
class MediaFrame:
    """One encoded frame: the codec's bitstream and its timestamp in the codec's clock."""

    data: bytes
    timestamp: int
    keyframe: bool


class Sink(Protocol):
    """A subscriber track fed by a :class:`TrackFanout` (a forwarded track)."""

    @property
    def source(self) -> TrackFanout | None:
        """The fan-out it forwards (a layered one's top layer), or None."""

    def switch(self, source: TrackFanout | None) -> None:
        """Forward ``source`` from now on (None: nothing)."""

    def reselect(self) -> None:
        """The source's layers changed: move to the layer its level picks."""

    def offer(self, frame: MediaFrame) -> None:
        """A frame (synchronous; never blocks)."""

    def offer_rtp(
        self, packet: RtpPacket, keyframe_start: bool, ntp: int, origin: TrackFanout | None = None
    ) -> None:
        """A packet from the layer ``origin`` (synchronous; never blocks)."""


class TrackFanout:
    """One published track and the subscriber tracks attached to it.

    ``request_keyframe`` sends a PLI to the publisher; it is throttled by ``keyframe_interval``.
    The owner (the publisher) must ``await close()``.
    """

    def __init__(
        self,
        *,
        track_id: str,
        publisher_id: str,
        codec: CodecSpec,
        send_keyframe_request: Callable[[], Awaitable[object]],
        keyframe_interval: float,
        source: Source = "camera",
    ) -> None:
        self.track_id = track_id
        self.publisher_id = publisher_id
        #: What it shows (camera or screen); subscribers see it in the msid stream id.
        self.source: Source = source
        self.stream_id = stream_id(publisher_id, source)
        self.codec = codec
        self.kind = codec.kind
        self.sinks: set[Sink] = set()
        #: The subscriber tracks that forward RTP.
        self.rtp_sinks: set[Sink] = set()
        #: Other consumers of every frame (the recorder); called synchronously, must not block.
        self.taps: list[Callable[[MediaFrame], None]] = []
        self.ended = False
        self.frames_in = 0
        self.keyframes_in = 0
        self.foreign_frames = 0
        self.packets_in = 0
        #: The layers of a layered camera, lowest first, this one (the highest) last; a
        #: lower layer is no track of its own (see :mod:`media.layers`).
        self.layers: list[TrackFanout] = [self]
        #: What the publisher sends on it (bits per second, RTP payloads).
        self.meter = RateMeter()
        self._keyframes = KeyframeRequester(send_keyframe_request, min_interval=keyframe_interval)

    @property
    def keyframe_requests(self) -> int:
        """How many times a keyframe was asked for (before throttling)."""
        return self._keyframes.requested

    @property
    def keyframe_requests_sent(self) -> int:
        return self._keyframes.sent

    def push_encoded(self, mime_type: str, data: bytes, timestamp: int) -> None:
        """A frame from the publisher's receiver (the frame tap callback)."""
        if self.ended:
            return
        if mime_type.lower() != self.codec.mime_type:
            # not the pinned codec (the publisher ignored our answer): cannot be forwarded
            self.foreign_frames += 1
            return
        frame = MediaFrame(data, timestamp, is_keyframe(mime_type, data))
        self.push(frame)

    def push_rtp(self, packet: RtpPacket, mime_type: str) -> None:
        """A packet from the publisher's receiver (the RTP tap callback)."""
        if self.ended or mime_type != self.codec.mime_type:
            return
        self.packets_in += 1
        self.meter.add(len(packet.payload))
        sinks = self.rtp_sinks
        if not sinks:
            return
        start = is_keyframe_start(mime_type, packet.payload)
        now = fast_ntp_time()
        for sink in tuple(sinks):
            sink.offer_rtp(packet, start, now, self)

    def layer_at(self, level: int) -> TrackFanout:
        """The layer a subscriber at ``level`` gets (the highest at or below it)."""
        return self.layers[max(0, min(level, len(self.layers) - 1))]

    def drop_layer(self, layer: TrackFanout) -> None:
        """A lower layer ended (its m-line stopped): its subscribers move to another one."""
        if layer is self or layer not in self.layers:
            return
        self.layers.remove(layer)
        for sink in tuple(layer.rtp_sinks):
            if sink.source is self:
                sink.reselect()

    def push(self, frame: MediaFrame) -> None:
        if self.ended:
            return
        self.frames_in += 1
        if frame.keyframe:
            self.keyframes_in += 1
        for sink in tuple(self.sinks):
            sink.offer(frame)
        for tap in tuple(self.taps):
            tap(frame)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (throttled; a no-op for audio or once ended)."""
        if self.kind == "video" and not self.ended:
            self._keyframes.request()

    def end(self) -> None:
        """The publisher stopped sending: detach every subscriber track."""
        if self.ended:
            return
        self.ended = True
        layered = {s for layer in self.layers for s in layer.rtp_sinks if s.source is self}
        for sink in {*self.sinks, *self.rtp_sinks, *layered}:
            sink.switch(None)
        self.sinks.clear()
        self.rtp_sinks.clear()
        self.taps.clear()

    async def close(self) -> None:
        self.end()
        await self._keyframes.close()

    def __repr__(self) -> str:
        sinks = len(self.sinks) + len(self.rtp_sinks)
        return f"TrackFanout({self.track_id!r}, {self.codec.mime_type}, sinks={sinks})"
