"""A subscriber process for the adaptive quality experiment (:mod:`bench.media.adaptive`).

It runs where the experiment puts it (inside a network namespace behind a shaped link, or
on loopback), answers the SFU's offers and decodes the video it receives. Talks JSON lines:

- stdin: ``{"offer": <sdp>, "id": <offer id>}``; an empty line or EOF ends it.
- stdout: ``{"answer": <sdp>, "id": <offer id>}`` for each offer, and every 0.2 s
  ``{"t": <time.monotonic()>, "sizes": {"<w>x<h>": <frames decoded so far>}}`` (the monotonic
  clock is the machine's, the same inside a namespace).

``python -m bench.media.adaptive_peer --address 10.213.0.2``: the address ICE offers.

Its video jitter buffer behaves more like a browser's than aiortc's does: aiortc NACKs a
packet only when it notices a new gap, so a lost retransmission leaves a hole that only a
full buffer clears (512 packets: 17 s of frozen video at a low layer's 30 packets a second).
Here a keyframe's first packet drops the incomplete frames before it (nothing before a
keyframe is needed to decode what follows), and the buffer holds 64 packets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add
from av import VideoFrame

from media.aiortc_hooks import host_addresses
from media.rtp_forwarding import is_keyframe_start

__all__ = ["main"]


class _ResyncingBuffer(JitterBuffer):
    """aiortc's jitter buffer, except that a keyframe skips a hole before it."""

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        origin = self._origin
        if origin is not None and is_keyframe_start("video/vp8", packet.payload):
            ahead = uint16_add(packet.sequence_number, -origin)
            if 0 < ahead < self.capacity and any(
                self._packets[(origin + i) % self.capacity] is None for i in range(ahead)
            ):
                self.remove(ahead)
        return super().add(packet)


class _Peer:
    def __init__(self, address: str) -> None:
        self.address = address
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.sizes: dict[str, int] = {}
        self.tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                for transceiver in self.pc.getTransceivers():
                    if transceiver.receiver.track is track:
                        receiver: Any = transceiver.receiver  # see the module docstring
                        receiver._RTCRtpReceiver__jitter_buffer = _ResyncingBuffer(
                            capacity=64, is_video=True
                        )
            self.tasks.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    key = f"{frame.width}x{frame.height}"
                    self.sizes[key] = self.sizes.get(key, 0) + 1

    async def answer(self, sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        with host_addresses((self.address,)):
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _report(peer: _Peer) -> None:
    while True:
        _emit({"t": time.monotonic(), "sizes": dict(peer.sizes)})
        await asyncio.sleep(0.2)


async def run(address: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    peer = _Peer(address)
    reporter = asyncio.ensure_future(_report(peer))
    try:
        while line := (await reader.readline()).strip():
            message = json.loads(line)
            _emit({"answer": await peer.answer(message["offer"]), "id": message["id"]})
    finally:
        reporter.cancel()
        for task in peer.tasks:
            task.cancel()
        await asyncio.gather(reporter, *peer.tasks, return_exceptions=True)
        await peer.pc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True, help="the address ICE offers")
    logging.basicConfig(level=logging.WARNING, format="peer %(name)s: %(message)s")
    asyncio.run(run(parser.parse_args().address))


if __name__ == "__main__":
    main()
