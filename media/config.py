"""Settings of one media router (one room on one worker).

The worker builds a :class:`RouterConfig` from its own settings; the router never reads the
environment. Defaults suit a class: one teacher at up to 1.5 Mbps of VP8, Opus at up to
64 kbps, a second of video queued per subscriber.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from media.aioice_ports import udp_port_range
from media.aiortc_hooks import host_addresses
from media.layers import SelectorConfig

__all__ = ["RouterConfig", "parse_port_range"]


def parse_port_range(text: str) -> range:
    """``"40000-40999"`` (both ends included) as a range; ``ValueError`` saying why if not."""
    low, sep, high = text.partition("-")
    try:
        first, last = int(low), int(high if sep else low)
    except ValueError:
        raise ValueError(f"a UDP port range looks like 40000-40999, not {text!r}") from None
    if not 1024 <= first <= last <= 65535:
        raise ValueError(f"UDP port range {text!r} must lie within 1024-65535, low to high")
    return range(first, last + 1)


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """What one router needs to know.

    - ``host_addresses``: the local addresses ICE offers as host candidates. ``None`` lets
      aioice use every interface except loopback (its default); tests pass
      ``("127.0.0.1",)`` to stay on loopback.
    - ``stun_urls``: STUN servers for server-reflexive candidates (none by default: a media
      worker normally has a routable address of its own).
    - ``udp_ports``: the ports ICE binds its UDP sockets in (:func:`parse_port_range`), so a
      firewall can be opened for exactly them; ``None``: any free port.
    - ``max_video_kbps`` / ``max_audio_kbps``: the publisher's send cap, written into the
      answer as ``b=AS``/``b=TIAS`` (browsers honour it; 0 disables).
    - ``video_queue_frames`` / ``audio_queue_frames``: frames queued per subscriber track
      before the queue overflows (video then drops to the next keyframe, audio drops the
      oldest frame).
    - ``keyframe_interval``: the shortest time between two keyframe requests (PLI) sent to one
      published track; requests in between are merged into one sent when it ends.
    - ``close_timeout``: the longest one peer connection may take to close; past it the close
      is cancelled and logged, so ``remove()``/``close()`` never hang.
    - ``forwarding``: ``"rtp"`` (each packet rewritten and sent as it arrives, see
      :mod:`media.rtp_forwarding`) or ``"frames"`` (frames reassembled, queued per
      subscriber and re-packetized by aiortc's sender: the former path, kept to compare).
    - ``layer_selector``: when a subscriber of a layered camera goes down a layer or tries
      the next one up (:mod:`media.layers`).
    """

    host_addresses: tuple[str, ...] | None = None
    stun_urls: tuple[str, ...] = ()
    udp_ports: range | None = None
    max_video_kbps: int = 1500
    max_audio_kbps: int = 64
    video_queue_frames: int = 30
    audio_queue_frames: int = 50
    keyframe_interval: float = 0.3
    close_timeout: float = 10.0
    forwarding: Literal["rtp", "frames"] = "rtp"
    layer_selector: SelectorConfig = field(default_factory=SelectorConfig)

    def __post_init__(self) -> None:
        if self.video_queue_frames < 1 or self.audio_queue_frames < 1:
            raise ValueError("queues must hold at least one frame")
        if self.close_timeout <= 0:
            raise ValueError("close_timeout must be positive")
        if self.keyframe_interval < 0:
            raise ValueError("keyframe_interval must not be negative")
        if self.max_video_kbps < 0 or self.max_audio_kbps < 0:
            raise ValueError("bitrate caps must not be negative")

    @contextlib.contextmanager
    def ice_scope(self) -> Iterator[None]:
        """Within this block (wrap ``setLocalDescription``, where aioice gathers), ICE binds on
        the configured host addresses and inside the configured UDP port range."""
        with host_addresses(self.host_addresses), udp_port_range(self.udp_ports):
            yield

    def rtc_configuration(self) -> RTCConfiguration:
        """A fresh aiortc configuration: BUNDLE everything, only the STUN servers given.

        ``iceServers`` must be an explicit list: aiortc falls back to a public Google STUN
        server when it is ``None``.
        """
        servers = [RTCIceServer(urls=url) for url in self.stun_urls]
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
