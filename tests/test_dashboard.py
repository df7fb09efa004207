"""The Grafana dashboard (scripts/grafana/liveclass-dashboard.json) only queries metrics that
/metrics exports, and covers HTTP, WebSocket, rooms, media workers and webhooks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parent.parent / "scripts/grafana/liveclass-dashboard.json"
METRIC = re.compile(r"\b(liveclass_[a-z0-9_]+)\b")
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gauge": ("",),
    "summary": ("", "_count", "_sum"),
}


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _queries(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in _panels(dashboard["panels"]) for t in p.get("targets", [])]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


def _exported(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def test_the_dashboard_is_valid_grafana_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] == "liveclass"
    assert dashboard["uid"]
    ids = [p["id"] for p in _panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard["panels"]):
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


async def test_every_metric_the_dashboard_queries_is_exported(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    exported = _exported((await client.get("/metrics")).text)
    queried = {
        m for expr in _queries(json.loads(DASHBOARD.read_text())) for m in METRIC.findall(expr)
    }
    assert queried, "the dashboard queries nothing"
    assert queried <= exported, sorted(queried - exported)
    # And it covers every area of the brief.
    for area in ("http", "ws_", "rooms", "media_workers", "media_rooms", "webhook_", "fanout"):
        assert any(area in m for m in queried), area
