"""Real aiortc peers for the media tests: a publisher sending generated VP8 video and Opus
audio, and subscribers that decode what the router sends them. Loopback ICE only."""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from media.aiortc_hooks import host_addresses
from media.config import RouterConfig
from media.router import Router
from media.sources import Source
from media.subscriber import Offer

LOOPBACK = ("127.0.0.1",)
WIDTH, HEIGHT = 320, 240


def client_pc() -> RTCPeerConnection:
    """A client connection: no STUN server (aiortc would default to a public one), every
    m-line on one transport as browsers do. (aiortc's default "balanced" policy loses every
    audio m-line after the first when a first offer carries several: it bundles each onto the
    first transport of its kind, then re-bundles only that first one.)"""
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


class PatternVideoTrack(VideoStreamTrack):
    """A bright bar moving across a dark 320x240 frame, 30 frames/s."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        planes = np.full((HEIGHT * 3 // 2, WIDTH), 128, dtype=np.uint8)
        planes[:HEIGHT, :] = 16
        x = (self.frames * 4) % (WIDTH - 16)
        planes[:HEIGHT, x : x + 16] = 235
        frame = VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts = pts
        frame.time_base = time_base
        self.frames += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A 440 Hz tone (``loudness``: its amplitude; 0 is silence), 20 ms mono s16 frames at
    48 kHz, paced in real time."""

    kind = "audio"
    RATE = 48000
    SAMPLES = 960

    def __init__(self, loudness: int = 8000) -> None:
        super().__init__()
        self.loudness = loudness
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._pts += self.SAMPLES
            await asyncio.sleep(self._start + self._pts / self.RATE - time.time())
        t = (np.arange(self.SAMPLES) + self._pts) / self.RATE
        samples = (np.sin(2 * math.pi * 440 * t) * self.loudness).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = self.RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


class ClientPublisher:
    """A participant sending video and audio to the router."""

    def __init__(
        self,
        router: Router,
        participant_id: str,
        source: Source = "camera",
        *,
        loudness: int = 8000,
    ) -> None:
        self.router = router
        self.participant_id = participant_id
        self.source: Source = source
        self.pc = client_pc()
        self.video = PatternVideoTrack()
        self.audio = ToneAudioTrack(loudness)
        self.connected = asyncio.Event()

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def publish(self) -> str:
        self.pc.addTrack(self.video)
        self.pc.addTrack(self.audio)
        with host_addresses(LOOPBACK):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.router.publish(
            self.participant_id, self.pc.localDescription.sdp, source=self.source
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return answer

    async def close(self) -> None:
        await self.pc.close()


class ClientSubscriber:
    """A participant receiving (and decoding) whatever the router offers them.

    ``until(predicate, within)`` waits, bounded, for a state reached through frames, answers or
    connection changes; every such change wakes it.
    """

    def __init__(self, router: Router, participant_id: str) -> None:
        self.router = router
        self.participant_id = participant_id
        self.pc = client_pc()
        self.offers: asyncio.Queue[Offer] = asyncio.Queue()
        self.answered = 0
        self.last_offer = ""
        self.connected_at: float | None = None
        self.first_video_at: float | None = None
        self.video_frames = 0
        self.audio_frames = 0
        self.video_sizes: set[tuple[int, int]] = set()
        self.track_ids: list[str] = []
        #: Frames received per track id (the msid's: ``<publisher>:<kind>:<n>``).
        self.frames_by_track: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[Any]] = []

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = time.monotonic()
            self._notify()

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self.track_ids.append(track.id)
            self._tasks.append(asyncio.ensure_future(self._read(track)))

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        self._tasks.append(asyncio.ensure_future(notify()))

    async def until(self, predicate: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def until_frames(self, video: int, audio: int, within: float) -> None:
        """Until it has decoded at least ``video`` video and ``audio`` audio frames in all."""
        await self.until(lambda: self.video_frames >= video and self.audio_frames >= audio, within)

    async def until_answered(self, more_than: int, within: float) -> None:
        """Until it has answered more than ``more_than`` offers."""
        await self.until(lambda: self.answered > more_than, within)

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames_by_track[track.id] = self.frames_by_track.get(track.id, 0) + 1
                if isinstance(frame, VideoFrame):
                    if self.first_video_at is None:
                        self.first_video_at = time.monotonic()
                    self.video_frames += 1
                    self.video_sizes.add((frame.width, frame.height))
                else:
                    self.audio_frames += 1
                async with self._changed:
                    self._changed.notify_all()
        except MediaStreamError:
            return

    async def join(self) -> None:
        offer = await self.router.subscribe(self.participant_id)
        if offer is not None:
            await self.handle_offer(offer)
        self._tasks.append(asyncio.ensure_future(self._answer_offers()))

    async def _answer_offers(self) -> None:
        while True:
            await self.handle_offer(await self.offers.get())

    async def handle_offer(self, offer: Offer) -> None:
        self.last_offer = offer.sdp
        await self.pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        with host_addresses(LOOPBACK):
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.router.answer(self.participant_id, self.pc.localDescription.sdp, offer.id)
        self.answered += 1
        async with self._changed:
            self._changed.notify_all()

    def directions(self) -> list[str | None]:
        return [t.currentDirection for t in self.pc.getTransceivers()]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


@asynccontextmanager
async def subscribed_router(
    room_id: str = "room-1", config: RouterConfig | None = None
) -> AsyncIterator[tuple[Router, dict[str, ClientSubscriber]]]:
    """A router on loopback whose offers go to the :class:`ClientSubscriber` registered under
    the participant's id in the dict it yields; every subscriber and the router are closed
    after."""
    subscribers: dict[str, ClientSubscriber] = {}

    def on_offer(participant_id: str, offer: Offer) -> None:
        subscribers[participant_id].offers.put_nowait(offer)

    router = Router(
        room_id, on_offer=on_offer, config=config or RouterConfig(host_addresses=LOOPBACK)
    )
    try:
        yield router, subscribers
    finally:
        for subscriber in subscribers.values():
            await subscriber.close()
        await asyncio.wait_for(router.close(), 10)
