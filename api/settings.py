"""The one typed settings object, read once at start-up from ``LIVECLASS_*`` variables.

Nothing else in liveclass reads the environment: the composition root (``api/app.py``, the
CLI) builds a :class:`Settings` and hands each component its slice as constructor arguments.

With nothing set, liveclass runs on its embedded defaults: a SQLite file and generated secrets
under ``LIVECLASS_DATA_DIR`` and an in-process fakeredis, and says so in its start-up log.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.settings_media import MediaSettings
from api.settings_platform import PlatformSettings
from media.config import parse_port_range
from signaling.hub import HubSettings
from signaling.participant import RateLimits
from signaling.protocol import Limits

__all__ = ["Environment", "Settings"]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings, MediaSettings, PlatformSettings):
    """Every knob of a liveclass process. See the README's configuration table.

    The media plane's knobs are declared in :class:`MediaSettings`, the platform
    integration's in :class:`PlatformSettings`; this class reads them all.
    """

    model_config = SettingsConfigDict(env_prefix="LIVECLASS_", extra="ignore", frozen=True)

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("liveclass-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under data_dir."
    )
    redis_url: str | None = Field(
        default=None, description="redis:// URL; default: in-process fakeredis."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="How clients reach this server. Unset: links name the address each "
        "request came to (Host, X-Forwarded-Host/-Proto); this default only serves what "
        "has no request (and requests without a usable Host).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # Identity: platform bearer tokens from the identity provider.
    jwt_secret: str | None = Field(default=None, description="HS256 shared secret.")
    jwks_url: str | None = Field(default=None, description="JWKS URL for RS256/ES256 tokens.")
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=600)
    # liveclass's own signing key (room tokens, signed download links); generated if unset.
    secret_key: str | None = None
    room_token_ttl_seconds: int = Field(default=600, ge=30, le=86_400)
    access_link_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)

    # Limits.
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    recording_max_bytes: int = Field(default=2 << 30, ge=1024)
    chat_max_chars: int = Field(default=2000, ge=1, le=100_000)
    max_session_hours: float = Field(default=6.0, gt=0, le=48)
    rest_presence_ttl_seconds: int = Field(default=60, ge=5, le=3600)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_statement_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Connections (api/connections.py): timeouts and caps before a request reaches the app.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    http_keep_alive_seconds: float = Field(default=5.0, gt=0, le=300)
    http_max_header_bytes: int = Field(default=64 * 1024, ge=4096, le=1 << 20)
    max_connections: int | None = Field(
        default=None,
        ge=4,
        description="Open connections per process; default: three quarters of the open-file "
        "limit. At the cap a new connection replaces the oldest one still without a request.",
    )
    max_connections_per_ip: int = Field(default=2500, ge=1, le=1_000_000)
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Addresses (or CIDR networks; '*' for any) of the proxies in front: their "
        "X-Forwarded-For/-Proto name the client, and the per-address connection cap does not "
        "count them (the proxy carries many clients).",
    )

    # The room hub (WebSocket).
    node_id: str | None = Field(
        default=None, description="This node's name on the bus; default: host name + random."
    )
    presence_ttl_seconds: float = Field(default=10.0, ge=2, le=120)
    heartbeat_interval_seconds: float = Field(default=3.0, ge=0.5, le=60)
    sweep_interval_seconds: float = Field(default=2.0, ge=0.2, le=60)
    resume_grace_seconds: float = Field(default=20.0, ge=0, le=600)
    presence_tick_ms: int = Field(default=200, ge=10, le=250)
    roster_limit: int = Field(default=50, ge=0, le=500)
    ws_outbox_frames: int = Field(default=1024, ge=16)
    ws_outbox_bytes: int = Field(default=4 << 20, ge=64 * 1024)
    ws_max_frame_bytes: int = Field(default=64 * 1024, ge=1024, le=16 << 20)
    ws_max_sdp_bytes: int = Field(default=48 * 1024, ge=1024, le=16 << 20)
    ws_ping_interval_seconds: float = Field(default=20.0, ge=1, le=600)
    ws_ping_timeout_seconds: float = Field(default=20.0, ge=1, le=600)
    ws_per_message_deflate: bool = Field(
        default=False,
        description="Compress WebSocket frames; costs CPU and memory for small messages.",
    )
    chat_rate_per_second: float = Field(default=2.0, gt=0, le=1000)
    chat_burst: float = Field(default=8.0, ge=1, le=10_000)
    ws_message_rate_per_second: float = Field(default=50.0, gt=0, le=100_000)
    ws_message_burst: float = Field(default=200.0, ge=1, le=100_000)
    ws_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to open /ws; default: any in development, the "
        "public URL's origin and LIVECLASS_CORS_ORIGINS in production.",
    )
    ws_max_connections_per_ip: int = Field(default=2000, ge=1, le=1_000_000)
    redis_sharded_pubsub: bool = Field(
        default=False, description="Use SPUBLISH/SSUBSCRIBE (one Redis server only)."
    )
    redis_cluster: bool = Field(
        default=False,
        description="LIVECLASS_REDIS_URL names a node of a Redis Cluster: every Redis use goes "
        "through RedisCluster, the bus through cluster-wide PUBLISH.",
    )

    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser."
    )
    public_catalog: bool = Field(
        default=False,
        description="Allow anonymous GET /sessions?tenant=T: the catalogue, without the "
        "caller-specific flags (all false).",
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: one JSON object per line, with requestId and connectionId.",
    )

    dev_signin: bool | None = Field(
        default=None,
        description="The development sign-in (/dev/signin, POST /dev/token) minting bearer "
        "tokens for any user, role and tenant. Default: on in development, off in production "
        "(where turning it on is refused).",
    )
    ws_access_log: bool = Field(
        default=False,
        description="Log a line per WebSocket handshake (uvicorn's, with the query string: "
        "the room token); off by default: it costs CPU in join storms and leaks tokens.",
    )

    @model_validator(mode="after")
    def _check_ice(self) -> Settings:
        if self.media_udp_ports is not None:
            parse_port_range(self.media_udp_ports)  # raises ValueError, saying why
        self.ice_servers()  # TURN URLs without the secret: refused at start-up
        return self

    @model_validator(mode="after")
    def _check_redis(self) -> Settings:
        if self.redis_cluster and self.redis_url is None:
            raise ValueError("LIVECLASS_REDIS_CLUSTER needs LIVECLASS_REDIS_URL (a cluster node)")
        if self.redis_cluster and self.redis_sharded_pubsub:
            # redis-py reads sharded subscriptions of several shards by polling them in turn
            # (a message waits behind the others' poll timeouts); the cluster bus uses PUBLISH.
            raise ValueError(
                "LIVECLASS_REDIS_SHARDED_PUBSUB is not supported with LIVECLASS_REDIS_CLUSTER"
            )
        return self

    @model_validator(mode="after")
    def _check_identity(self) -> Settings:
        if self.jwks_url and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError("LIVECLASS_JWKS_URL must be an http(s) URL")
        if self.jwt_secret and self.jwks_url:
            raise ValueError("set LIVECLASS_JWT_SECRET or LIVECLASS_JWKS_URL, not both")
        if self.environment is Environment.PRODUCTION and not (self.jwt_secret or self.jwks_url):
            raise ValueError("production needs LIVECLASS_JWT_SECRET or LIVECLASS_JWKS_URL")
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            # A lease that ran out mid-attempt would let another node send it a second time.
            raise ValueError(
                "LIVECLASS_WEBHOOK_LEASE_SECONDS must exceed LIVECLASS_WEBHOOK_TIMEOUT_SECONDS"
            )
        if self.dev_signin and self.environment is Environment.PRODUCTION:
            raise ValueError("LIVECLASS_DEV_SIGNIN mints tokens for anyone: never in production")
        if self.dev_signin and self.jwks_url:
            raise ValueError(
                "LIVECLASS_DEV_SIGNIN cannot mint tokens for an identity provider's JWKS"
            )
        if self.payment_verify_url and not self.payment_verify_url.startswith(
            ("https://", "http://")
        ):
            raise ValueError("LIVECLASS_PAYMENT_VERIFY_URL must be an http(s) URL")
        if self.environment is Environment.PRODUCTION and not self.secret_key:
            raise ValueError("production needs LIVECLASS_SECRET_KEY (shared by every node)")
        return self

    @property
    def dev_signin_enabled(self) -> bool:
        """Whether /dev/signin and POST /dev/token exist (development without a JWKS)."""
        if self.dev_signin is not None:
            return self.dev_signin
        return self.environment is Environment.DEVELOPMENT and self.jwks_url is None

    @property
    def public_url_configured(self) -> bool:
        """LIVECLASS_PUBLIC_URL was set (else links follow each request's address)."""
        return "public_url" in self.model_fields_set

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'liveclass.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """The server's own signing key; in development a generated one kept in data_dir."""
        if self.secret_key:
            return self.secret_key
        return _generated_secret(self.data_dir / "secret-key")

    def resolved_jwt_secret(self) -> str | None:
        """The HS256 key for platform tokens.

        Without an identity provider configured (development), platform tokens minted by
        ``liveclass token`` are signed with the server's own key.
        """
        if self.jwt_secret:
            return self.jwt_secret
        if self.jwks_url:
            return None
        return self.resolved_secret_key()

    def allowed_ws_origins(self) -> list[str] | None:
        """Origins allowed to open WebSockets; None allows any (development default)."""
        if self.ws_allowed_origins:
            return list(self.ws_allowed_origins)
        if self.environment is Environment.PRODUCTION:
            scheme, _, rest = self.public_url.partition("://")
            return [f"{scheme}://{rest.split('/', 1)[0]}", *self.cors_origins]
        return None

    def hub_settings(self) -> HubSettings:
        return HubSettings(
            presence_ttl=self.presence_ttl_seconds,
            heartbeat_interval=self.heartbeat_interval_seconds,
            sweep_interval=self.sweep_interval_seconds,
            resume_grace=self.resume_grace_seconds,
            presence_tick=self.presence_tick_ms / 1000,
            roster_limit=self.roster_limit,
            outbox_frames=self.ws_outbox_frames,
            outbox_bytes=self.ws_outbox_bytes,
            rate_limits=RateLimits(
                chat_rate=self.chat_rate_per_second,
                chat_burst=self.chat_burst,
                message_rate=self.ws_message_rate_per_second,
                message_burst=self.ws_message_burst,
            ),
            allowed_origins=self.allowed_ws_origins(),
            max_connections_per_ip=self.ws_max_connections_per_ip,
            limits=Limits(
                max_frame_bytes=self.ws_max_frame_bytes, max_sdp_bytes=self.ws_max_sdp_bytes
            ),
            ice=self.ice_servers(),
        )

    @property
    def runs_media_in_process(self) -> bool:
        if self.media_in_process is not None:
            return self.media_in_process
        return self.redis_url is None

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"


def _generated_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(48)
        # Exclusive create: two processes starting together agree on the first one written.
        try:
            with path.open("x") as fh:
                fh.write(value)
            path.chmod(0o600)
        except FileExistsError:
            return path.read_text().strip()
        return value
