"""The adaptive-quality experiment (:mod:`bench.media.adaptive`) with a Chromium viewer on the
shaped link: ``python -m bench.media.adaptive_chromium`` (as root; the same options).

Headless Chromium (Debian's, as the browser tests use) runs inside the run's network
namespace (started through ``ip netns exec``; Playwright talks to it over pipes, which cross
namespaces), so everything it receives comes over the shaped veth. Its page answers the
router's offers on a bare ``RTCPeerConnection`` and plays the video in a ``<video>``; every
0.25 s the page's ``getStats()`` tells how many frames it has decoded, counted under the size
it decodes then. The free viewer is the aiortc one, on loopback. Figures as in
:mod:`bench.media.adaptive`: what a browser's own receiver reports (its REMB, its receiver
reports every ~0.2 s) is what the SFU's probes are judged by here.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

from bench.media.adaptive import (
    AdaptiveOptions,
    LayeredPublisher,
    PeerProcess,
    Sampler,
    Viewer,
    command_line,
    frames_between,
    measure,
    video_track,
)
from bench.servers.netns import private_host
from media.config import RouterConfig
from media.forwarding import ForwardedTrack
from media.router import Router
from media.subscriber import Offer

__all__ = ["ChromiumViewer", "run_adaptive_chromium"]

CHROMIUM = "/usr/bin/chromium"
#: Host candidates as addresses, not mDNS names (aiortc resolves none).
ARGS = ["--disable-gpu", "--disable-dev-shm-usage", "--disable-features=WebRtcHideLocalIpsWithMdns"]

PAGE = """() => {
  const pc = new RTCPeerConnection();
  window.viewer = pc;
  pc.ontrack = (e) => {
    const v = document.createElement("video");
    v.muted = true; v.autoplay = true; v.srcObject = new MediaStream([e.track]);
    document.body.appendChild(v); v.play().catch(() => {});
  };
}"""

ANSWER = """async (sdp) => {
  const pc = window.viewer;
  await pc.setRemoteDescription({ type: "offer", sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== "complete") {
    await new Promise((done) => pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") done();
    }));
  }
  return pc.localDescription.sdp;
}"""

DECODED = """async () => {
  let frames = 0, size = "";
  (await window.viewer.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") {
      frames = s.framesDecoded || 0; size = `${s.frameWidth || 0}x${s.frameHeight || 0}`;
    }
  });
  return [frames, size];
}"""


class ChromiumViewer:
    """A Chromium page receiving from ``router`` as ``participant_id`` (a :class:`Viewer`)."""

    def __init__(self, router: Router, participant_id: str, page: Page) -> None:
        self.router = router
        self.participant_id = participant_id
        self.page = page
        self.offers: asyncio.Queue[Offer] = asyncio.Queue()
        self.timeline: list[tuple[float, dict[str, int]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.page.evaluate(PAGE)
        offer = await self.router.subscribe(self.participant_id)
        if offer is not None:
            await self._negotiate(offer)
        self._tasks += [asyncio.ensure_future(self._answer()), asyncio.ensure_future(self._count())]

    async def _negotiate(self, offer: Offer) -> None:
        answer = await self.page.evaluate(ANSWER, offer.sdp)
        await self.router.answer(self.participant_id, answer, offer.id)

    async def _answer(self) -> None:
        while True:
            await self._negotiate(await self.offers.get())

    async def _count(self) -> None:
        sizes: dict[str, int] = {}
        last = 0
        while True:
            frames, size = await self.page.evaluate(DECODED)
            sizes[size] = sizes.get(size, 0) + frames - last
            last = frames
            self.timeline.append((time.monotonic(), dict(sizes)))
            await asyncio.sleep(0.25)

    def video_track(self) -> ForwardedTrack | None:
        return video_track(self.router, self.participant_id)

    def frames_between(self, start: float, end: float, size: str | None = None) -> int:
        return frames_between(self.timeline, start, end, size)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def run_adaptive_chromium(options: AdaptiveOptions) -> dict[str, Any]:
    """Run the experiment with the limited viewer in Chromium (root only)."""
    async with private_host("adchr") as host:
        with tempfile.TemporaryDirectory() as tmp:
            wrapper = Path(tmp) / "chromium-in-namespace"
            wrapper.write_text(f'#!/bin/sh\nexec {" ".join(host.run_prefix)} {CHROMIUM} "$@"\n')
            wrapper.chmod(0o755)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(wrapper), args=ARGS)
                try:
                    page = await browser.new_page()
                    return await _run(options, host.peer_address, host.link, page)
                finally:
                    await browser.close()


async def _run(
    options: AdaptiveOptions, peer_address: str, link: str, page: Page
) -> dict[str, Any]:
    config = RouterConfig(host_addresses=("127.0.0.1", peer_address))
    peers: dict[str, Viewer] = {}
    router = Router(
        "adaptive", on_offer=lambda pid, offer: peers[pid].offers.put_nowait(offer), config=config
    )
    free = PeerProcess(router, "free")
    limited = ChromiumViewer(router, "limited", page)
    peers.update(free=free, limited=limited)
    publisher = LayeredPublisher(router)
    sampler = Sampler(peers)
    sampling: asyncio.Task[None] | None = None
    try:
        await publisher.publish()
        await free.start([], "127.0.0.1")
        await limited.start()
        sampling = asyncio.ensure_future(sampler.run())
        await asyncio.sleep(options.warmup)
        return await measure(options, link, peers, sampler)
    finally:
        if sampling is not None:
            sampling.cancel()
            await asyncio.gather(sampling, return_exceptions=True)
        for peer in peers.values():
            await peer.close()
        await publisher.close()
        await asyncio.wait_for(router.close(), 15)


def main() -> None:
    command_line(__doc__.splitlines()[0], run_adaptive_chromium)


if __name__ == "__main__":
    main()
