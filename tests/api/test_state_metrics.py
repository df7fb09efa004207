"""The gauges read on each scrape keep /metrics answering when a backing service is down."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from api.metrics import StateMetrics, WebhookMetrics


class _Down:
    async def __call__(self) -> Any:
        raise ConnectionError("redis is down")


class _Value:
    def __init__(self, value: Any) -> None:
        self.value = value

    async def __call__(self) -> Any:
        return self.value


async def test_a_failing_source_keeps_its_last_value_and_is_counted() -> None:
    registry = CollectorRegistry()
    state = StateMetrics(registry, WebhookMetrics(registry))
    healthy = SimpleNamespace(
        sessions=SimpleNamespace(live_count=_Value(3)),
        webhook_queue=SimpleNamespace(pending_count=_Value(7)),
        media_registry=SimpleNamespace(alive=_Value(["w1", "w2"]), placed_count=_Value(4)),
    )
    await state.refresh(healthy)  # type: ignore[arg-type]
    down = SimpleNamespace(
        sessions=SimpleNamespace(live_count=_Value(5)),
        webhook_queue=SimpleNamespace(pending_count=_Value(0)),
        media_registry=SimpleNamespace(alive=_Down(), placed_count=_Down()),
    )
    await state.refresh(down)  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert "liveclass_rooms_live 5.0" in text
    assert "liveclass_webhook_outbox_pending 0.0" in text
    assert "liveclass_media_workers_alive 2.0" in text  # the last value read
    assert "liveclass_media_rooms_placed 4.0" in text
    assert 'liveclass_metrics_refresh_errors_total{source="media_workers"} 1.0' in text
    assert 'liveclass_metrics_refresh_errors_total{source="media_rooms"} 1.0' in text
