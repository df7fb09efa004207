"""A subscriber's m-line: the published track it forwards, as RTP packets or as frames.

:class:`ForwardedTrack` is one subscriber's m-line: an aiortc ``MediaStreamTrack`` fed to a
stock ``RTCRtpSender`` and by a :class:`media.fanout.TrackFanout` (one published track). With
an outlet (:class:`media.aiortc_outlet.RtpOutlet`, the default) it forwards RTP: each packet
is rewritten for the subscriber (:class:`media.rtp_forwarding.RtpRewriter`) and sent at
once, and ``recv()`` never yields (it only tells that the sender started). Without one,
``recv()`` yields ``av.Packet``\\ s and the sender packetizes them (the frame path,
``LIVECLASS_MEDIA_FORWARDING=frames``). It is switched between sources (a published track,
or none while its m-line is inactive) and between the layers of a layered one, and keeps the
subscriber's numbering and timestamps continuous across switches.

Keyframe policy: a subscriber track is *held* (gets nothing) until a keyframe arrives, whenever
it (re)starts: when its sender first pulls (the connection is up), when it is switched to a new
source, after renegotiation (:meth:`ForwardedTrack.restart`) and after its queue overflowed.
Each hold asks the publisher for a keyframe through the track's throttled
:class:`media.keyframes.KeyframeRequester`, and asks again with every frame it drops until the
keyframe comes: one request may go unanswered (a lost RTCP packet; Chrome ignores a request
within 300 ms of the previous one) and encoders make keyframes only when asked, so a single
request could leave a subscriber without video for minutes. Audio frames all count as
keyframes.

Frame queues are bounded: on overflow video drops everything queued and waits for the next
keyframe; audio drops the oldest frame. RTP is not queued here: a packet is written to the
socket when it arrives.

Everything here runs on the event loop; nothing blocks.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from collections import deque
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket
from av.packet import Packet

from media.fanout import MediaFrame, TrackFanout
from media.rtp_forwarding import PacketOutlet, RtpRewriter

__all__ = ["ForwardedTrack"]

log = logging.getLogger("liveclass.media.forwarding")

#: The timestamp step inserted between two sources of one subscriber track (one frame).
_SWITCH_STEP = {"video": 90000 // 30, "audio": 960}


class ForwardedTrack(MediaStreamTrack):
    """One subscriber m-line's track: forwards RTP through ``outlet``, or yields the forwarded
    frames as ``av.Packet``\\ s without one.

    ``recv()`` blocks while there is nothing to yield (an inactive m-line; always, with an
    outlet) and raises ``MediaStreamError`` once the track is stopped.
    """

    def __init__(
        self,
        kind: str,
        *,
        clock_rate: int,
        capacity: int,
        outlet: PacketOutlet | None = None,
        mime_type: str = "",
    ) -> None:
        super().__init__()
        self.kind = kind
        self.outlet = outlet
        self._rewriter = RtpRewriter(kind, vp8=mime_type == "video/vp8")
        self._time_base = fractions.Fraction(1, clock_rate)
        self._capacity = capacity
        self._queue: deque[MediaFrame] = deque()
        self._wakeup = asyncio.Event()
        self._source: TrackFanout | None = None
        #: The layer of ``_source`` forwarded now, and the one waiting for its keyframe.
        self._active: TrackFanout | None = None
        self._pending: TrackFanout | None = None
        #: The level the subscriber's :class:`media.layers.LayerSelector` chose (None: top).
        self.level: int | None = None
        self.layer_switches = 0
        self._pulling = False
        self._pulled = asyncio.Event()
        self._holding = True
        self._offset = 0
        self._last_out: int | None = None
        self._rebase = True
        self.forwarded = 0
        self.dropped = 0
        self.overflows = 0
        self.remote_keyframe_requests = 0

    @property
    def source(self) -> TrackFanout | None:
        return self._source

    @property
    def layer(self) -> TrackFanout | None:
        """The layer of :attr:`source` being forwarded (the source itself if unlayered)."""
        return self._active

    @property
    def layer_index(self) -> int | None:
        """Where :attr:`layer` is in the source's layers (0: lowest)."""
        if self._source is None or self._active not in self._source.layers:
            return None
        return self._source.layers.index(self._active)

    @property
    def holding(self) -> bool:
        """Waiting for a keyframe before forwarding anything."""
        return self._holding

    @property
    def pulling(self) -> bool:
        """The sender has started reading (its connection is up)."""
        return self._pulling

    async def until_pulling(self) -> None:
        """Return once the sender has started reading (at once if it has); unbounded."""
        await self._pulled.wait()

    @property
    def queued(self) -> int:
        """Frames waiting for the sender to read them."""
        return len(self._queue)

    def switch(self, source: TrackFanout | None) -> None:
        """Forward ``source`` from now on (None: nothing); holds until its next keyframe."""
        if source is self._source:
            return
        if self._source is not None:
            self._source.sinks.discard(self)
        self._detach_layers()
        self._source = source
        self._queue.clear()
        self._holding = True
        self._rebase = True
        self._rewriter.new_source()
        if source is not None:
            if self.outlet is None:  # the frame path forwards the source, never a layer
                source.sinks.add(self)
                self._active = source
            else:
                self._active = source.layer_at(self._wanted_level(source))
                self._active.rtp_sinks.add(self)
            if self._pulling:
                self._active.request_keyframe()

    def _wanted_level(self, source: TrackFanout) -> int:
        return len(source.layers) - 1 if self.level is None else self.level

    def _detach_layers(self) -> None:
        for layer in (self._active, self._pending):
            if layer is not None:
                layer.rtp_sinks.discard(self)
        self._active = self._pending = None

    def set_level(self, level: int | None) -> None:
        """Forward the source's layer for ``level`` (None: its top): a switch waits for
        that layer's next keyframe (asked for now) and is seamless for the subscriber."""
        self.level = level
        self.reselect()

    def reselect(self) -> None:
        """Move towards the layer :attr:`level` picks (the source's layers changed)."""
        source, active = self._source, self._active
        if source is None or active is None or self.outlet is None:
            return
        target = source.layer_at(self._wanted_level(source))
        if target is active or active not in source.layers or self._holding:
            if self._pending is not None:
                self._pending.rtp_sinks.discard(self)
                self._pending = None
            if target is not active:  # nothing forwarded yet, or its layer is gone
                active.rtp_sinks.discard(self)
                self._active = target
                target.rtp_sinks.add(self)
                self._holding = True
                self._rewriter.new_source()
                if self._pulling:
                    target.request_keyframe()
            return
        if target is self._pending:
            return
        if self._pending is not None:
            self._pending.rtp_sinks.discard(self)
        self._pending = target
        target.rtp_sinks.add(self)
        target.request_keyframe()

    def restart(self) -> None:
        """Hold until a keyframe again (the remote side just (re)negotiated this m-line)."""
        self._queue.clear()
        self._holding = True
        if self._pulling and self._active is not None:
            self._active.request_keyframe()

    def on_remote_keyframe_request(self) -> None:
        """The subscriber sent PLI/FIR: pass it on to the publisher (throttled there)."""
        self.remote_keyframe_requests += 1
        if self._active is not None:
            self._active.request_keyframe()

    def offer_rtp(
        self, packet: RtpPacket, keyframe_start: bool, ntp: int, origin: TrackFanout | None = None
    ) -> None:
        """A packet from the layer ``origin`` (None: the forwarded one) of the source
        (synchronous; never blocks): rewritten and sent."""
        if not self._pulling or self.outlet is None:
            return
        if origin is not None and origin is not self._active:
            if origin is not self._pending:
                return
            if not keyframe_start:
                origin.request_keyframe()  # throttled upstream
                return
            # the layer we switch to starts a keyframe: from here on, forward it instead
            if self._active is not None:
                self._active.rtp_sinks.discard(self)
            self._active, self._pending = origin, None
            self._rewriter.new_source()
            self._holding = False
            self.layer_switches += 1
        if self._holding:
            if not keyframe_start:
                self.dropped += 1
                # as for frames: ask again with every packet dropped (throttled upstream)
                if self._active is not None:
                    self._active.request_keyframe()
                return
            self._holding = False
            self._rewriter.restart()
        mapped = self._rewriter.map(packet.sequence_number, packet.timestamp, packet.payload)
        if mapped is None:
            return
        seq, ts, payload = mapped
        self.outlet.send(seq, ts, packet.marker, payload, ntp)
        self.forwarded += 1

    def offer(self, frame: MediaFrame) -> None:
        """A frame from the source (synchronous; never blocks)."""
        if not self._pulling:
            return
        if self._holding:
            if not frame.keyframe:
                self.dropped += 1
                # The request made when the hold began may go unanswered (its RTCP packet
                # lost; Chrome ignores one within 300 ms of the previous), and encoders make
                # keyframes only when asked: ask again with every frame dropped (the
                # publisher's requester throttles and merges these).
                if self._source is not None:
                    self._source.request_keyframe()
                return
            self._holding = False
        if len(self._queue) >= self._capacity:
            self.overflows += 1
            if self.kind == "video":
                self.dropped += len(self._queue)
                self._queue.clear()
                if not frame.keyframe:
                    self.dropped += 1
                    self._holding = True
                    if self._source is not None:
                        self._source.request_keyframe()
                    return
            else:
                self._queue.popleft()
                self.dropped += 1
        self._queue.append(frame)
        self._wakeup.set()

    async def recv(self) -> Packet[Any]:
        if not self._pulling:
            self._pulling = True
            self._pulled.set()
            if self._active is not None:
                self._active.request_keyframe()
        while not self._queue or self.outlet is not None:
            if self.readyState != "live":
                raise MediaStreamError
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.readyState != "live":
            raise MediaStreamError
        frame = self._queue.popleft()
        packet = Packet(frame.data)
        packet.pts = self._rebased(frame.timestamp)
        packet.time_base = self._time_base
        self.forwarded += 1
        return packet

    def _rebased(self, timestamp: int) -> int:
        """Continuous output timestamps: a new source starts one frame after the last one."""
        if self._rebase:
            self._rebase = False
            if self._last_out is None:
                self._offset = -timestamp
            else:
                self._offset = self._last_out + _SWITCH_STEP.get(self.kind, 1) - timestamp
        out = timestamp + self._offset
        self._last_out = out
        return out

    def stop(self) -> None:
        self.switch(None)
        super().stop()
        self._wakeup.set()
