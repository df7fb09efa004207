"""Prometheus metrics of one app, in a registry it owns (not the global one): HTTP requests,
webhook deliveries, and gauges of the shared state read on each scrape. The room hub's metrics
are in ``signaling/metrics.py`` (same registry)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from api.services import Services

__all__ = ["HttpMetrics", "MetricsMiddleware", "StateMetrics", "WebhookMetrics"]

log = logging.getLogger("liveclass.metrics")


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "liveclass_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "liveclass_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.webhooks = WebhookMetrics(self.registry)
        self.state = StateMetrics(self.registry, self.webhooks)


class MetricsMiddleware:
    """Counts every HTTP request under its route template (``/api/v1/sessions/{ref}``), so
    ids never become label values."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = _route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", []):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "other"))
    return "unmatched"


class WebhookMetrics:
    """Webhook delivery metrics; the dispatcher reports every attempt here
    (:class:`rooms.webhooks.dispatcher.DeliveryObserver`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "liveclass_webhook_deliveries_total",
            "Webhook delivery attempts by event type and outcome (delivered; retry: failed, "
            "will retry; dead: failed for the last time; lost: lease taken over).",
            ["event_type", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "liveclass_webhook_delivery_duration_seconds",
            "Duration of webhook HTTP attempts (until the receiver answered or failed).",
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        )
        self.outbox = Gauge(
            "liveclass_webhook_outbox_pending",
            "Webhook deliveries waiting to be delivered (all nodes; updated on scrape).",
            registry=registry,
        )

    def attempted(self, event_type: str, outcome: str, seconds: float) -> None:
        self.attempts.labels(event_type, outcome).inc()
        self.latency.observe(seconds)


class StateMetrics:
    """Gauges read from the shared state on each scrape (so every node reports the same
    cluster-wide values): live rooms, media workers, the webhook outbox."""

    def __init__(self, registry: CollectorRegistry, webhooks: WebhookMetrics) -> None:
        self.rooms_live = Gauge(
            "liveclass_rooms_live",
            "Sessions that are live now (all nodes).",
            registry=registry,
        )
        self.media_workers = Gauge(
            "liveclass_media_workers_alive",
            "Media workers heartbeating in Redis.",
            registry=registry,
        )
        self.media_rooms = Gauge(
            "liveclass_media_rooms_placed",
            "Rooms placed on a media worker.",
            registry=registry,
        )
        self.scrape_errors = Counter(
            "liveclass_metrics_refresh_errors_total",
            "Scrapes that could not read a gauge's source (database or Redis down).",
            ["source"],
            registry=registry,
        )
        self._webhooks = webhooks

    async def refresh(self, services: Services) -> None:
        """Read the gauges' sources; a source that fails keeps its last value."""

        async def read(source: str, probe: Awaitable[int], gauge: Gauge) -> None:
            try:
                gauge.set(await asyncio.wait_for(probe, timeout=2.0))
            except Exception as exc:  # a scrape must answer even with a backing service down
                log.debug("metrics source %s failed: %s", source, exc.__class__.__name__)
                self.scrape_errors.labels(source).inc()

        await read("rooms", services.sessions.live_count(), self.rooms_live)
        await read("outbox", services.webhook_queue.pending_count(), self._webhooks.outbox)
        await read("media_workers", _alive_count(services), self.media_workers)
        await read("media_rooms", services.media_registry.placed_count(), self.media_rooms)


async def _alive_count(services: Services) -> int:
    return len(await services.media_registry.alive())
