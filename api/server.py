"""Running the app under uvicorn, with a graceful drain of the room hub.

On SIGTERM/SIGINT, :class:`DrainingServer` first closes the listening sockets, so connection
attempts are refused and a load balancer sends them (and the reconnects that follow) to
another node; then the hub closes every client with 1001 ("going away, reconnect") and hands
their seats to the resume grace, so they resume on another node without the class seeing
anyone leave (uvicorn's own shutdown would close them with 1012 instead); then uvicorn's
shutdown finishes the HTTP requests in flight.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket

import uvicorn
from starlette.applications import Starlette

from api.connections import ConnectionGuard, ConnectionLimits, guarded_protocols
from api.gc_policy import freeze_startup_heap
from api.settings import Settings
from api.ws_access_log import WithoutAccessLines, drop_access_lines

__all__ = ["DrainingServer", "build_server", "connection_limits", "serve"]


class DrainingServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, app: Starlette, *, freeze_heap: bool = False
    ) -> None:
        super().__init__(config)
        self._app = app
        self._freeze_heap = freeze_heap
        #: Set once the server listens (uvicorn itself only flips ``started``, a flag).
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            if self._freeze_heap:
                freeze_startup_heap()
            self.listening.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Listeners first: a client told 1001 that reconnects at once must not land here.
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        hub = getattr(self._app.state, "hub", None)
        if hub is not None:
            await hub.drain()
        await super().shutdown(sockets)


def connection_limits(settings: Settings) -> ConnectionLimits:
    """The connection limits of ``settings`` (the total cap defaults to three quarters of
    the open-file limit: the rest is for the database, Redis, media and files)."""
    total = settings.max_connections
    if total is None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        total = max(64, soft - max(256, soft // 4))
    return ConnectionLimits(
        header_timeout=settings.http_header_timeout_seconds,
        body_timeout=settings.http_body_timeout_seconds,
        max_header_bytes=settings.http_max_header_bytes,
        max_connections=total,
        max_connections_per_ip=settings.max_connections_per_ip,
        trusted_proxies=tuple(settings.trusted_proxies),
    )


def build_server(
    app: Starlette, settings: Settings, *, host: str, port: int, freeze_heap: bool = False
) -> DrainingServer:
    """The uvicorn server ``liveclass serve`` runs: WebSockets on uvicorn's sans-I/O
    websockets implementation (measured at more than twice the deliveries of the default
    one), HTTP on httptools, both behind the connection limits of ``api/connections.py``.
    ``freeze_heap``: once started, freeze what start-up made (``api/gc_policy.py``; for a process
    that only serves, not one that also runs tests)."""
    uvicorn_log = logging.getLogger("uvicorn.error")
    quiet = None if settings.ws_access_log else WithoutAccessLines(uvicorn_log)
    http, ws = guarded_protocols(ConnectionGuard(connection_limits(settings)), ws_logger=quiet)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http,
        ws=ws,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        ws_per_message_deflate=settings.ws_per_message_deflate,
        # Frames up to 4x the protocol limit reach the decoder (which answers with an
        # error message); larger ones are cut off by uvicorn with 1009.
        ws_max_size=max(4 * settings.ws_max_frame_bytes, 1 << 20),
        # Typed int by uvicorn, used as a call_later delay: a float works (and tests use one).
        timeout_keep_alive=settings.http_keep_alive_seconds,  # type: ignore[arg-type]
        log_level=settings.log_level.lower(),
        # Logging is configured once by the CLI (api/logs.py: format, ids, redaction);
        # uvicorn's own config would bypass the redaction of tokens in WebSocket URLs.
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=list(settings.trusted_proxies),
        lifespan="on",
        backlog=2048,
        timeout_graceful_shutdown=30,
    )
    server = DrainingServer(config, app, freeze_heap=freeze_heap)
    # uvicorn configures its loggers when the Config is made; the filter goes on after.
    drop_access_lines(uvicorn_log, drop=not settings.ws_access_log)
    return server


def serve(app: Starlette, settings: Settings, *, host: str, port: int) -> None:
    """Serve ``app`` until interrupted."""
    build_server(app, settings, host=host, port=port, freeze_heap=True).run()
