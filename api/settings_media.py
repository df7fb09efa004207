"""The media plane's knobs, and what clients are told to use for ICE: a part of
:class:`api.settings.Settings` (which reads them from ``LIVECLASS_*`` variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from media.config import RouterConfig, parse_port_range
from rooms.ice import IceServers

__all__ = ["MediaSettings"]


class MediaSettings(BaseModel):
    """The media workers (``liveclass media`` or in-process) and the ICE servers of clients."""

    media_in_process: bool | None = Field(
        default=None,
        description="Run a media worker inside `liveclass serve`. Default: on with the "
        "embedded Redis (which external workers cannot reach), off with a real Redis (run "
        "`liveclass media` workers).",
    )
    media_worker_id: str | None = None
    media_host_addresses: list[str] | None = Field(
        default=None, description="Addresses ICE offers as host candidates; default: all."
    )
    media_stun_urls: list[str] = Field(default_factory=list)
    media_udp_ports: str | None = Field(
        default=None,
        description="UDP port range (`40000-40999`) the media workers bind their ICE sockets "
        "in, so a firewall can be opened for exactly that range; default: any port.",
    )
    # What clients are told to use for ICE (room token answer and welcome).
    ice_stun_urls: list[str] = Field(
        default_factory=list, description="STUN servers for clients (`stun:host:3478`)."
    )
    turn_urls: list[str] = Field(
        default_factory=list,
        description="TURN servers for clients behind restrictive firewalls, e.g. "
        '`["turn:turn.example.org:3478?transport=udp", '
        '"turn:turn.example.org:3478?transport=tcp", "turns:turn.example.org:443?transport=tcp"]`.',
    )
    turn_secret: str | None = Field(
        default=None, description="coturn's static-auth-secret (use-auth-secret)."
    )
    turn_ttl_seconds: int = Field(
        default=4 * 3600,
        ge=60,
        le=7 * 86_400,
        description="How long a TURN credential lasts; must outlast the longest class.",
    )
    media_max_video_kbps: int = Field(default=1500, ge=0, le=20_000)
    media_max_audio_kbps: int = Field(default=64, ge=0, le=510)
    media_heartbeat_seconds: float = Field(default=3.0, gt=0, le=60)
    media_ttl_seconds: float = Field(default=10.0, gt=1, le=600)
    media_forwarding: Literal["rtp", "frames"] = Field(
        default="rtp",
        description="How workers forward media: rewritten RTP packets (rtp), or frames "
        "reassembled and re-packetized per subscriber (frames, the former path).",
    )
    media_worker_max_subscribers: int = Field(
        default=150,
        ge=1,
        le=100_000,
        description="Participants one media worker sends a room's media to before the room "
        "spreads to a relay worker (see the media bench for what one core carries).",
    )
    recording_sweep_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How often each node fails the server recordings of media workers that "
        "are no longer alive.",
    )

    def ice_servers(self) -> IceServers:
        return IceServers(
            stun_urls=tuple(self.ice_stun_urls),
            turn_urls=tuple(self.turn_urls),
            turn_secret=self.turn_secret,
            turn_ttl=self.turn_ttl_seconds,
        )

    def router_config(self) -> RouterConfig:
        return RouterConfig(
            host_addresses=tuple(self.media_host_addresses)
            if self.media_host_addresses is not None
            else None,
            stun_urls=tuple(self.media_stun_urls),
            udp_ports=parse_port_range(self.media_udp_ports) if self.media_udp_ports else None,
            max_video_kbps=self.media_max_video_kbps,
            max_audio_kbps=self.media_max_audio_kbps,
            forwarding=self.media_forwarding,
        )
