"""The Starlette application factory: routes, middleware and the lifespan that owns every
resource (database engine, Redis client, services). No business logic lives here."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api import compat
from api.endpoint import Api, openapi_document
from api.errors import exception_handlers
from api.limits import BodySizeLimit
from api.logs import RequestIdMiddleware
from api.metrics import HttpMetrics, MetricsMiddleware
from api.routes import (
    analytics,
    bans,
    breakouts,
    chat,
    enrollment,
    microphones,
    ops,
    polls,
    questions,
    recordings,
    room,
    sessions,
    waiting_room,
    web,
    webhooks,
)
from api.security import SecurityHeaders
from api.services import open_services
from api.settings import Settings
from api.ws_door import HUB_PATH, LiveclassApp
from rooms.inputs import RecordingLinkRequest
from signaling.endpoint import websocket_endpoint
from signaling.metrics import HubMetrics

__all__ = ["API_MODULES", "create_app"]

log = logging.getLogger("liveclass")

API_MODULES: list[Api] = [
    sessions.api,
    enrollment.api,
    room.api,
    bans.api,
    chat.api,
    polls.api,
    breakouts.api,
    microphones.api,
    waiting_room.api,
    questions.api,
    analytics.api,
    recordings.api,
    webhooks.api,
    ops.api,
]

VERSION = "0.1.0"


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], float] = time.time
) -> Starlette:
    """A liveclass app for ``settings`` (default: read from the environment, once).

    ``clock`` is for tests that need to move time (presence and link expiry).
    """
    settings = settings or Settings()
    metrics = HttpMetrics()
    hub_metrics = HubMetrics(metrics.registry)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(
            settings, clock=clock, hub_metrics=hub_metrics, webhook_observer=metrics.webhooks
        )
        await services.start()
        app.state.services = services
        app.state.hub = services.hub
        try:
            yield
        finally:
            await services.close()

    routes: list[BaseRoute] = [
        Route("/openapi.json", ops.openapi, include_in_schema=False),
        Route("/docs", ops.docs, include_in_schema=False),
        Route("/docs/init.js", ops.docs_init, include_in_schema=False),
        Mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="docs-static"),
        Route("/metrics", ops.metrics, include_in_schema=False),
        # Taken at the door (api/ws_door.py); the route is for anything that lists routes.
        WebSocketRoute(HUB_PATH, websocket_endpoint),
    ]
    for api in API_MODULES:
        routes.extend(api.routes())
    routes.extend(web.routes())
    routes.extend(compat.routes(settings))

    upload_limit = settings.recording_max_bytes + (1 << 20)

    def body_limit(path: str) -> int:
        if path.endswith("/recordings") and path.startswith(("/api/v1/sessions/", "/sessions/")):
            return upload_limit
        return settings.max_body_bytes

    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(MetricsMiddleware, metrics=metrics),
        Middleware(SecurityHeaders, https=settings.public_url.startswith("https://")),
    ]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
                expose_headers=["X-Request-Id"],
            )
        )
    middleware.append(Middleware(BodySizeLimit, limit_for=body_limit))

    app = LiveclassApp(
        routes=routes,
        middleware=middleware,
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.openapi = api_description()
    return app


@functools.cache
def api_description() -> dict[str, Any]:
    """The OpenAPI document served at /openapi.json. It depends on the code alone, so every
    app of a process shares one, built once (it takes ~0.1 s of pydantic schema generation,
    which every app made in a test paid again). Callers must not change it."""
    return openapi_document(
        API_MODULES, title="liveclass", version=VERSION, extra_models=(RecordingLinkRequest,)
    )
