"""Prometheus metrics of the room hub (registered in the app's own registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["HubMetrics"]


class HubMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        self.connections = Gauge(
            "liveclass_ws_connections",
            "Open WebSocket connections on this node.",
            registry=registry,
        )
        self.rooms = Gauge(
            "liveclass_rooms_local",
            "Rooms with at least one connection on this node.",
            registry=registry,
        )
        self.messages_in = Counter(
            "liveclass_ws_messages_in_total",
            "Client messages received, by type.",
            ["type"],
            registry=registry,
        )
        self.messages_out = Counter(
            "liveclass_ws_messages_out_total",
            "Messages queued to clients (deliveries).",
            registry=registry,
        )
        self.fanout_latency = Histogram(
            "liveclass_fanout_latency_seconds",
            "From a room event's publication to its fan-out on this node.",
            registry=registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self.refused_joins = Counter(
            "liveclass_refused_joins_total",
            "Refused WebSocket joins, by reason.",
            ["reason"],
            registry=registry,
        )
        self.closed = Counter(
            "liveclass_ws_closed_total",
            "Connections closed by the server, by close code.",
            ["code"],
            registry=registry,
        )
