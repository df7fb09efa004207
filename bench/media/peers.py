"""aiortc peers that negotiate with an SFU as a browser does: liveclass or Janus.

A peer's *target* says which: ``{"kind": "liveclass", "url": <ws url with a room token>}``
(the peer holds a WebSocket to the hub, JSON subprotocol, and sends
``{"type":"signal","to":"sfu",...}``; the SFU's answers and its server-initiated offers come
back as ``{"type":"signal","from":"sfu",...}``), or ``{"kind": "janus", "ws": <url>, "room":
<id>, "feed": <publisher id>}`` (VideoRoom over Janus's WebSocket API, see
:mod:`bench.media.janus`). ICE stays on loopback (both sides put their candidates in the SDP).

- :class:`PublisherPeer` offers generated VP8 video (:class:`~bench.media.source.EncodedVideoTrack`)
  and Opus audio, and answers the SFU's keyframe requests.
- :class:`SubscriberPeer` answers the SFU's offers and *counts* what it receives: every
  receiver's RTP packets go to a :class:`~bench.media.rtp.StreamCounter`, taken off the ICE
  socket as they arrive once aiortc's ICE and DTLS handshake is done
  (:func:`media.aiortc_receiver.receive_rtp_directly`: unprotected with aiortc's SRTP
  session, none of aiortc's per-packet queues and tasks); nothing is reassembled or
  decoded, so one process holds many of them. Like every receiver whose packets bypass
  aiortc's handler, it sends no receiver reports and no NACKs (neither SFU needs them to
  keep sending); RTCP from the SFU still reaches aiortc.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCOutboundRtpStreamStats,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from websockets.asyncio.client import ClientConnection, connect

from bench.media.janus import JanusClient
from bench.media.rtp import StreamCounter
from bench.media.source import EncodedVideoTrack, ToneAudioTrack
from bench.media.tags import FrameTally
from media.aiortc_hooks import host_addresses, on_keyframe_request
from media.aiortc_receiver import direct_receive_counts, receive_rtp_directly

__all__ = ["LOOPBACK", "PublisherPeer", "SubscriberPeer", "Target", "VideoSettings"]

#: Where a peer connects: see the module docstring.
Target = dict[str, Any]

log = logging.getLogger("liveclass.bench.media")

LOOPBACK = ("127.0.0.1",)


def _addresses(target: Target) -> tuple[str, ...]:
    """The host candidates to offer: loopback, or this side of the link to a Janus target's
    network namespace."""
    return (str(target["address"]),) if target.get("address") else LOOPBACK


def _pc() -> RTCPeerConnection:
    # an explicit empty list: aiortc falls back to a public STUN server on None
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


class _Hub:
    """One WebSocket to the hub: sends JSON, hands SFU signals to a callback."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.welcome: dict[str, Any] | None = None
        self.errors: list[dict[str, Any]] = []
        self.closed_code: int | None = None
        self._welcomed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def open(self, on_signal: Any, within: float) -> None:
        self.ws = await connect(
            self.url,
            subprotocols=["liveclass.v1.json"],  # type: ignore[list-item]
            compression=None,
            ping_interval=None,
            open_timeout=within,
            max_size=2**22,
        )
        self._reader = asyncio.create_task(self._read(on_signal))
        async with asyncio.timeout(within):
            await self._welcomed.wait()

    async def _read(self, on_signal: Any) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                data = json.loads(raw)
                for message in data if isinstance(data, list) else [data]:
                    kind = message.get("type")
                    if kind == "welcome":
                        self.welcome = message
                        self._welcomed.set()
                    elif kind == "signal" and message.get("from") == "sfu":
                        try:
                            await on_signal(message)
                        except Exception as exc:  # one bad signal must not stop the reader
                            log.warning("sfu signal failed: %r", exc)
                            self.errors.append({"code": "signal_failed", "message": repr(exc)})
                    elif kind == "error":
                        self.errors.append(message)
        except Exception as exc:
            log.debug("hub connection ended: %r", exc)
        finally:
            if self.ws is not None and self.ws.close_code is not None:
                self.closed_code = self.ws.close_code

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


class VideoSettings:
    def __init__(self, width: int, height: int, fps: int, kbps: int) -> None:
        self.width = width
        self.height = height
        self.fps = fps
        self.kbps = kbps


class PublisherPeer:
    """The teacher: publishes generated video and audio to the SFU. Told to ``restart``
    (liveclass lost its connection), it publishes again on a new one, as the browser client
    does; :attr:`republished_ms` says how long each took (restart → media flowing)."""

    def __init__(self, target: Target, video: VideoSettings) -> None:
        self.target = target
        self.hub = _Hub(str(target.get("url", "")))
        self.janus: JanusClient | None = None
        self.video = EncodedVideoTrack(
            width=video.width, height=video.height, fps=video.fps, kbps=video.kbps
        )
        self.audio = ToneAudioTrack()
        self._answer: asyncio.Future[str] | None = None
        self._senders: list[tuple[str, RTCRtpSender]] = []
        #: Packets sent on connections closed since (a new one's counters start at 0).
        self._packets_before = {"video": 0, "audio": 0}
        self.republished_ms: list[float | None] = []
        self._republishing: asyncio.Task[None] | None = None
        self._within = 30.0
        self.pc, self.connected = self._new_pc()

    def _new_pc(self) -> tuple[RTCPeerConnection, asyncio.Event]:
        pc, connected = _pc(), asyncio.Event()

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState == "connected":
                connected.set()

        return pc, connected

    async def _on_signal(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "answer" and self._answer and not self._answer.done():
            self._answer.set_result(str(message["sdp"]))
        elif kind == "restart" and self._republishing is None:
            # not awaited here: the answer comes through this same reader
            self._republishing = asyncio.create_task(self._republish())

    async def _republish(self) -> None:
        started = time.monotonic()
        try:
            for kind, packets in (await self._packets()).items():
                self._packets_before[kind] += packets
            old, (self.pc, self.connected) = self.pc, self._new_pc()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(old.close(), 10)
            await self._offer(self._within)
            self.republished_ms.append(round((time.monotonic() - started) * 1000, 1))
        except Exception as exc:
            log.warning("publishing again failed: %r", exc)
            self.republished_ms.append(None)
        finally:
            self._republishing = None

    async def publish(self, within: float) -> None:
        """Join, offer, apply the answer and wait until the media flows."""
        self._within = within
        if self.target["kind"] != "janus":
            await self.hub.open(self._on_signal, within)
        await self._offer(within)

    async def _offer(self, within: float) -> None:
        sender = self.pc.addTrack(self.video)
        on_keyframe_request(sender, self.video.request_keyframe)
        self._senders = [("video", sender), ("audio", self.pc.addTrack(self.audio))]
        with host_addresses(_addresses(self.target)):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = self.pc.localDescription.sdp
        async with asyncio.timeout(within):
            if self.target["kind"] == "janus":
                answer = await self._publish_janus(offer, within)
            else:
                self._answer = asyncio.get_running_loop().create_future()
                await self.hub.send({"type": "signal", "to": "sfu", "kind": "offer", "sdp": offer})
                answer = await self._answer
            await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            await self.connected.wait()

    async def _publish_janus(self, offer: str, within: float) -> str:
        self.janus = janus = await JanusClient.open(self.target["ws"], within)
        handle = await janus.attach()
        room, feed = self.target["room"], self.target["feed"]
        join = {"request": "join", "ptype": "publisher", "room": room, "id": feed}
        await janus.message(handle, join)
        publish = {"request": "publish", "audio": True, "video": True}
        _, jsep = await janus.message(handle, publish, {"type": "offer", "sdp": offer})
        if jsep is None:
            raise RuntimeError("Janus answered the publish request without an SDP")
        return str(jsep["sdp"])

    async def _packets(self) -> dict[str, int]:
        """Packets sent on the current connection, per kind."""
        packets = {"video": 0, "audio": 0}
        for kind, sender in self._senders:
            with contextlib.suppress(Exception):  # a sender stopped meanwhile
                for stats in (await sender.getStats()).values():
                    if isinstance(stats, RTCOutboundRtpStreamStats):
                        packets[kind] += stats.packetsSent
        return packets

    async def counters(self) -> dict[str, int]:
        now = await self._packets()
        packets = {kind: self._packets_before[kind] + now[kind] for kind in now}
        return {
            "video_frames": self.video.frames_sent,
            "video_keyframes": self.video.keyframes_sent,
            "video_bytes": self.video.bytes_sent,
            "video_packets": packets["video"],
            "keyframe_requests": self.video.keyframe_requests,
            "audio_frames": self.audio.frames_sent,
            "audio_packets": packets["audio"],
        }

    async def close(self) -> None:
        if self._republishing is not None:
            self._republishing.cancel()
            await asyncio.gather(self._republishing, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 10)
        await self.hub.close()
        if self.janus is not None:
            await self.janus.close()


class SubscriberPeer:
    """A student: answers the SFU's offers and counts the RTP packets it gets."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.hub = _Hub(str(target.get("url", "")))
        self.janus: JanusClient | None = None
        self.pc = _pc()
        self.streams: dict[int, StreamCounter] = {}
        #: Complete tagged frames per kind (:mod:`bench.media.tags`).
        self.tallies = {"video": FrameTally(), "audio": FrameTally()}
        self.offers = 0
        self.joined_at: float | None = None
        self.joined = False  # the hub welcomed us / Janus attached us to the feed
        self.connected_at: float | None = None
        self.first_keyframe = asyncio.Event()
        self._hooked: set[int] = set()

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = time.monotonic()

    async def join(self, within: float) -> None:
        self.joined_at = time.monotonic()
        if self.target["kind"] != "janus":
            await self.hub.open(self._on_signal, within)
            self.joined = True
            return
        self.janus = janus = await JanusClient.open(self.target["ws"], within)
        handle = await janus.attach()
        body = {
            "request": "join",
            "ptype": "subscriber",
            "room": self.target["room"],
            "streams": [{"feed": self.target["feed"]}],
        }
        _, jsep = await janus.message(handle, body)
        if jsep is None:
            raise RuntimeError("Janus sent no offer to a subscriber")
        answer = await self._answer(str(jsep["sdp"]))
        await janus.message(handle, {"request": "start"}, {"type": "answer", "sdp": answer})
        self.joined = True

    async def _answer(self, offer: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        for transceiver in self.pc.getTransceivers():
            self._hook(transceiver.receiver, transceiver.kind)
        with host_addresses(_addresses(self.target)):
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.offers += 1
        return str(self.pc.localDescription.sdp)

    async def _on_signal(self, message: dict[str, Any]) -> None:
        if message.get("kind") != "offer":
            return
        sdp = await self._answer(str(message["sdp"]))
        answer = {"type": "signal", "to": "sfu", "kind": "answer", "sdp": sdp}
        if "offerId" in message:
            answer["offerId"] = message["offerId"]
        await self.hub.send(answer)

    def _hook(self, receiver: RTCRtpReceiver, kind: str) -> None:
        if id(receiver) in self._hooked:
            return
        self._hooked.add(id(receiver))
        streams = self.streams
        first = self.first_keyframe
        tally = self.tallies[kind]
        clock = time.monotonic_ns

        def on_rtp(ssrc: int, sequence_number: int, marker: int, payload: bytes) -> None:
            counter = streams.get(ssrc)
            if counter is None:
                counter = streams[ssrc] = StreamCounter(kind, tally=tally)
            counter.add(sequence_number, marker, payload, clock())
            if counter.first_keyframe_at is not None and not first.is_set():
                first.set()

        receive_rtp_directly(receiver, on_rtp)

    @property
    def first_keyframe_at(self) -> float | None:
        times = [s.first_keyframe_at for s in self.streams.values() if s.first_keyframe_at]
        return min(times) if times else None

    def counters(self) -> dict[str, dict[str, int]]:
        """Per kind: packets, expected, bytes, frames, keyframes (summed over SSRCs)."""
        out: dict[str, dict[str, int]] = {}
        for counter in self.streams.values():
            into = out.setdefault(counter.kind, {})
            for key, value in counter.snapshot().items():
                into[key] = into.get(key, 0) + value
        return out

    def direct(self) -> dict[str, int]:
        """RTP packets taken straight off the socket (``packets``) and dropped there
        (``dropped``: failed SRTP, malformed, unrouted), over this peer's transports; the
        packets aiortc handled itself (before the direct path was in place) are the rest."""
        totals = {"packets": 0, "dropped": 0}
        transports = {
            id(t.receiver.transport): t.receiver.transport for t in self.pc.getTransceivers()
        }
        for transport in transports.values():
            counts = direct_receive_counts(transport)
            if counts is not None:
                totals["packets"] += counts[0]
                totals["dropped"] += counts[1]
        return totals

    def timings(self) -> dict[str, float | None]:
        """Milliseconds: join → connected, connected → first keyframe, join → first keyframe."""

        def ms(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round((b - a) * 1000, 2)

        return {
            "connect_ms": ms(self.joined_at, self.connected_at),
            "first_frame_ms": ms(self.connected_at, self.first_keyframe_at),
            "join_to_frame_ms": ms(self.joined_at, self.first_keyframe_at),
        }

    def frames(self, ranges: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
        """Per kind, the tagged frames of the publisher's index range ``[first, end)``."""
        return {kind: self.tallies[kind].window(*ranges[kind]) for kind in ranges}

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 10)
        await self.hub.close()
        if self.janus is not None:
            await self.janus.close()


async def close_all(peers: Sequence[PublisherPeer | SubscriberPeer]) -> None:
    await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
