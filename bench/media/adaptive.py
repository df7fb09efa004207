"""Adaptive quality on a shaped link: one layered publisher, two subscribers, one constrained.

The experiment (``python -m bench.media.adaptive``, as root; ``--json`` writes the figures):

1. A media router (:class:`media.router.Router`) in this process; an aiortc publisher sends
   its camera as two encodings, a low layer (160x120, about 60 kbps) and a high layer
   (320x240, about 500 kbps),
   naming them in ``layers`` as the classroom does.
2. Two subscriber processes (:mod:`bench.media.adaptive_peer`) decode what they get: *free*
   on loopback, *limited* inside a network namespace made for the run
   (:func:`bench.servers.netns.private_host`), reached over a veth pair.
3. ``warmup`` seconds unshaped, then the link into the namespace is shaped with ``tc`` (tbf,
   ``rate``) for ``constrained`` seconds, then the shaping is lifted and the run waits up to
   ``recover`` seconds for the limited subscriber to get the high layer back.

Figures: for each subscriber the layer the SFU forwards over time (sampled every 0.1 s),
frames decoded per layer, and frame loss = 1 - frames decoded / frames the publisher made in
the interval (30 a second): for the limited subscriber over the whole shaped window after its
switch down (``limited_loss_after_switch``; the SFU probes the link with padding meanwhile,
``limited_probes``, and goes up only if a probe passes) and for the free one over the whole
run; the time from shaping to the switch down and from lifting to the switch up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket
from av import VideoFrame

from bench.servers.netns import private_host
from media.aiortc_hooks import host_addresses
from media.aiortc_outlet import RtpOutlet
from media.config import RouterConfig
from media.forwarding import ForwardedTrack
from media.router import Router
from media.subscriber import Offer, Subscriber

__all__ = [
    "AdaptiveOptions",
    "LayeredPublisher",
    "PeerProcess",
    "Sampler",
    "Viewer",
    "frames_between",
    "measure",
    "run_adaptive",
    "shaped",
    "video_track",
]

FRAME_RATE = 30
LOW_SIZE = (160, 120)
HIGH_SIZE = (320, 240)


class _LayerTrack(VideoStreamTrack):
    """A moving bar at 30 frames/s over ``noise`` rows of faint noise at the bottom (which
    sets the bitrate: 40 rows of 320 take aiortc's VP8 about 500 kbps, 12 rows of 160 about
    60 kbps)."""

    def __init__(self, width: int, height: int, *, noise: int) -> None:
        super().__init__()
        self.width, self.height, self.noise = width, height, noise
        self.frames = 0
        self._rng = np.random.default_rng(1)

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        w, h = self.width, self.height
        planes = np.full((h * 3 // 2, w), 128, dtype=np.uint8)
        planes[:h, :] = 16
        x = (self.frames * 4) % (w - 16)
        planes[:h, x : x + 16] = 235
        if self.noise:
            rows = self.noise
            planes[h - rows : h, :] = self._rng.integers(100, 116, (rows, w), dtype=np.uint8)
        frame = VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        self.frames += 1
        return frame


class LayeredPublisher:
    """An aiortc participant publishing one camera as a low and a high encoding."""

    def __init__(self, router: Router, participant_id: str = "teacher") -> None:
        self.router = router
        self.participant_id = participant_id
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.low = _LayerTrack(*LOW_SIZE, noise=12)
        self.high = _LayerTrack(*HIGH_SIZE, noise=40)

    async def publish(self, *, layered: bool = True) -> None:
        low = self.pc.addTransceiver(self.low, direction="sendonly")
        high = self.pc.addTransceiver(self.high, direction="sendonly")
        with host_addresses(("127.0.0.1",)):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        layers = {str(low.mid): "low", str(high.mid): "high"} if layered else None
        answer = await self.router.publish(
            self.participant_id, self.pc.localDescription.sdp, layers=layers
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        for sender in self.pc.getSenders():
            _ignore_remb(sender)

    async def close(self) -> None:
        await self.pc.close()


def _ignore_remb(sender: RTCRtpSender) -> None:
    """Keep the encoder at its own target: aiortc's sender follows the SFU's REMB, which on
    a busy machine sometimes drops the high layer below the shaped rate (then both layers fit
    and nothing is measured)."""
    handle = sender._handle_rtcp_packet

    async def without_remb(packet: Any) -> None:
        if not (isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP):
            await handle(packet)

    sender._handle_rtcp_packet = without_remb  # type: ignore[method-assign]


class Viewer(Protocol):
    """A subscriber the experiment measures (:class:`PeerProcess`, or a Chromium page:
    :mod:`bench.media.adaptive_chromium`); ``offers`` takes the router's offers for it."""

    router: Router
    offers: asyncio.Queue[Offer]

    def video_track(self) -> ForwardedTrack | None: ...

    def frames_between(self, start: float, end: float, size: str | None = None) -> int: ...

    async def close(self) -> None: ...


def video_track(router: Router, participant_id: str) -> ForwardedTrack | None:
    """The subscriber track carrying ``participant_id``'s video (None before they have one)."""
    subscriber = router.subscribers.get(participant_id)
    if subscriber is None:
        return None
    return next((t for t in subscriber.outputs if t.kind == "video"), None)


def frames_between(
    timeline: list[tuple[float, dict[str, int]]], start: float, end: float, size: str | None
) -> int:
    """Frames decoded (of ``size``, or any) between the reports of ``timeline`` (``(time,
    {size: frames so far})``) nearest the two times."""

    def at(t: float) -> int:
        before = [sizes for when, sizes in timeline if when <= t]
        sizes = before[-1] if before else {}
        return sizes.get(size, 0) if size else sum(sizes.values())

    return at(end) - at(start)


class PeerProcess:
    """A subscriber process (:mod:`bench.media.adaptive_peer`) answering the router's offers;
    ``timeline`` collects its ``(time, {size: frames})`` reports."""

    def __init__(self, router: Router, participant_id: str) -> None:
        self.router = router
        self.participant_id = participant_id
        self.offers: asyncio.Queue[Offer] = asyncio.Queue()
        self.timeline: list[tuple[float, dict[str, int]]] = []
        self._answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._process: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, prefix: list[str], address: str) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *prefix,
            sys.executable,
            "-m",
            "bench.media.adaptive_peer",
            "--address",
            address,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self._tasks.append(asyncio.ensure_future(self._read()))
        offer = await self.router.subscribe(self.participant_id)
        if offer is not None:
            await self._negotiate(offer)
        self._tasks.append(asyncio.ensure_future(self._answer_offers()))

    async def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        while line := await self._process.stdout.readline():
            message = json.loads(line)
            if "answer" in message:
                await self._answers.put(message)
            else:
                self.timeline.append((message["t"], message["sizes"]))

    async def _answer_offers(self) -> None:
        while True:
            await self._negotiate(await self.offers.get())

    async def _negotiate(self, offer: Offer) -> None:
        assert self._process is not None
        assert self._process.stdin is not None
        self._process.stdin.write(
            (json.dumps({"offer": offer.sdp, "id": offer.id}) + "\n").encode()
        )
        await self._process.stdin.drain()
        answer = await asyncio.wait_for(self._answers.get(), 20)
        await self.router.answer(self.participant_id, answer["answer"], answer["id"])

    def video_track(self) -> ForwardedTrack | None:
        return video_track(self.router, self.participant_id)

    def frames_between(self, start: float, end: float, size: str | None = None) -> int:
        return frames_between(self.timeline, start, end, size)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        process = self._process
        if process is not None and process.returncode is None:
            assert process.stdin is not None
            process.stdin.write(b"\n")
            with contextlib.suppress(ConnectionError):
                await process.stdin.drain()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _tc(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "tc", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"tc {' '.join(args)}: {err.decode().strip()}")


@asynccontextmanager
async def shaped(link: str, rate: str) -> AsyncIterator[None]:
    """Shape what ``link`` (a veth this run made) sends to ``rate`` (tbf; a 150 ms queue)."""
    await _tc("qdisc", "add", "dev", link, "root", "tbf", "rate", rate, "burst", "12kb",
              "latency", "150ms")  # fmt: skip
    try:
        yield
    finally:
        await _tc("qdisc", "del", "dev", link, "root")


@dataclass(frozen=True, slots=True)
class AdaptiveOptions:
    rate: str = "300kbit"
    warmup: float = 6.0
    constrained: float = 20.0
    recover: float = 40.0


class Sampler:
    """The layer each subscriber's video is forwarded at, every 0.1 s."""

    def __init__(self, peers: Mapping[str, Viewer]) -> None:
        self.peers = peers
        self.samples: dict[str, list[tuple[float, int | None]]] = {name: [] for name in peers}

    async def run(self) -> None:
        while True:
            now = time.monotonic()
            for name, peer in self.peers.items():
                track = peer.video_track()
                self.samples[name].append((now, track.layer_index if track else None))
            await asyncio.sleep(0.1)

    def first(self, name: str, layer: int, after: float) -> float | None:
        return next((t for t, i in self.samples[name] if t >= after and i == layer), None)

    def share(self, name: str, layer: int, start: float, end: float) -> float:
        window = [i for t, i in self.samples[name] if start <= t <= end]
        return sum(1 for i in window if i == layer) / len(window) if window else 0.0


async def run_adaptive(options: AdaptiveOptions) -> dict[str, Any]:
    """Run the experiment (root only: it makes a namespace and shapes its link)."""
    async with private_host("adapt") as host:
        config = RouterConfig(host_addresses=("127.0.0.1", host.peer_address))
        router = Router(
            "adaptive",
            on_offer=lambda pid, offer: peers[pid].offers.put_nowait(offer),
            config=config,
        )
        peers = {"free": PeerProcess(router, "free"), "limited": PeerProcess(router, "limited")}
        publisher = LayeredPublisher(router)
        sampler = Sampler(peers)
        sampling: asyncio.Task[None] | None = None
        try:
            await publisher.publish()
            await peers["free"].start([], "127.0.0.1")
            await peers["limited"].start(host.run_prefix, host.address)
            sampling = asyncio.ensure_future(sampler.run())
            await asyncio.sleep(options.warmup)
            return await measure(options, host.link, peers, sampler)
        finally:
            if sampling is not None:
                sampling.cancel()
                await asyncio.gather(sampling, return_exceptions=True)
            for peer in peers.values():
                await peer.close()
            await publisher.close()
            await asyncio.wait_for(router.close(), 15)


async def measure(
    options: AdaptiveOptions,
    link: str,
    peers: Mapping[str, Viewer],
    sampler: Sampler,
) -> dict[str, Any]:
    low, high = "x".join(map(str, LOW_SIZE)), "x".join(map(str, HIGH_SIZE))

    def made_between(start: float, end: float) -> int:
        return round((end - start) * FRAME_RATE)

    start = time.monotonic()
    async with shaped(link, options.rate):
        shaped_at = time.monotonic()
        await asyncio.sleep(options.constrained)
        lifted_at = time.monotonic()
    deadline = lifted_at + options.recover
    while time.monotonic() < deadline and sampler.first("limited", 1, lifted_at) is None:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # a report or two after the switch up
    end = time.monotonic()
    down_at = sampler.first("limited", 0, shaped_at)
    up_at = sampler.first("limited", 1, lifted_at)
    limited, free = peers["limited"], peers["free"]
    window = (down_at if down_at else lifted_at, lifted_at)
    up_in_window = sampler.first("limited", 1, window[0])
    made_window = made_between(*window)
    decoded_window = limited.frames_between(*window)
    track = limited.video_track()
    subscriber = limited.router.subscribers.get("limited")
    selector = subscriber.selector if subscriber is not None else None
    result = AdaptiveResult(
        rate=options.rate,
        shaped_seconds=round(lifted_at - shaped_at, 1),
        switch_down_seconds=round(down_at - shaped_at, 2) if down_at else None,
        switch_up_seconds=round(up_at - lifted_at, 2) if up_at else None,
        limited_window_seconds=round(window[1] - window[0], 1),
        limited_frames_made=made_window,
        limited_frames_decoded=decoded_window,
        limited_low_frames=limited.frames_between(*window, size=low),
        limited_loss_after_switch=_loss(made_window, decoded_window),
        limited_up_while_shaped=up_in_window is not None and up_in_window < lifted_at,
        limited_probes=selector.probes if selector else 0,
        limited_probes_failed=selector.probes_failed if selector else 0,
        limited_probe_failures=dict(selector.probe_failures) if selector else {},
        limited_probe_history=[list(p) for p in selector.probe_history] if selector else [],
        limited_padding_bytes=_padding(subscriber),
        limited_low_share=round(sampler.share("limited", 0, *window), 3),
        limited_layer_switches=track.layer_switches if track else 0,
        free_frames_made=made_between(start, end),
        free_frames_decoded=free.frames_between(start, end),
        free_high_frames=free.frames_between(start, end, size=high),
        free_loss=_loss(made_between(start, end), free.frames_between(start, end)),
        free_high_share=round(sampler.share("free", 1, start, end), 3),
    )
    return asdict(result)


def _padding(subscriber: Subscriber | None) -> int:
    if subscriber is None:
        return 0
    outlets = (t.outlet for t in subscriber.outputs)
    return sum(o.padding_sent for o in outlets if isinstance(o, RtpOutlet))


def _loss(made: int, decoded: int) -> float:
    return round(max(0.0, 1 - decoded / made), 4) if made else 1.0


@dataclass(frozen=True, slots=True)
class AdaptiveResult:
    rate: str
    shaped_seconds: float
    switch_down_seconds: float | None
    switch_up_seconds: float | None
    limited_window_seconds: float
    limited_frames_made: int
    limited_frames_decoded: int
    limited_low_frames: int
    limited_loss_after_switch: float
    limited_up_while_shaped: bool
    limited_probes: int
    limited_probes_failed: int
    limited_probe_failures: dict[str, int]
    limited_probe_history: list[list[float | str | None]]
    limited_padding_bytes: int
    limited_low_share: float
    limited_layer_switches: int
    free_frames_made: int
    free_frames_decoded: int
    free_high_frames: int
    free_loss: float
    free_high_share: float


def command_line(
    description: str,
    run: Callable[[AdaptiveOptions], Coroutine[Any, Any, dict[str, Any]]],
) -> None:
    """The experiment's command line (``--rate``, ``--constrained``, ``--json``), for the aiortc
    viewer here and the Chromium one (:mod:`bench.media.adaptive_chromium`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rate", default="300kbit", help="the limited link (tc rate)")
    parser.add_argument("--constrained", type=float, default=20.0, help="seconds shaped")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    options = AdaptiveOptions(rate=args.rate, constrained=args.constrained)
    figures = asyncio.run(run(options))
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")


def main() -> None:
    command_line(__doc__.splitlines()[0], run_adaptive)


if __name__ == "__main__":
    main()
