"""From what a run measured (:class:`~bench.runner.RawRun`) to the result document.

Latencies, deliveries and CPU are read per one-second window of the load. A step's figures
come from the windows wholly inside it, leaving out its first second when the step is longer
than two seconds (the transient after a rate change). Server CPU per delivery is the
server's CPU time in those windows over the chat messages the clients received in them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from bench.probe import delta, value_at
from bench.runner import RawRun
from bench.stats import Histogram

__all__ = ["analyse"]

HEALTHY = "healthy"


def _windows(raw: RawRun, group: str) -> dict[int, Histogram]:
    out: dict[int, Histogram] = {}
    for result in raw.worker_results:
        for key, data in result["windows"].get(group, {}).items():
            window = int(key)
            out.setdefault(window, Histogram()).merge(Histogram.from_dict(data))
    return out


def _client_cpu(raw: RawRun) -> list[list[tuple[float, float]]]:
    return [[(float(t), float(c)) for t, c in r["cpu"]] for r in raw.worker_results]


def _sum_counters(raw: RawRun, key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for result in raw.worker_results:
        for name, n in result.get(key, {}).items():
            out[name] = out.get(name, 0) + int(n)
    return dict(sorted(out.items()))


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def _span(raw: RawRun, start: float, end: float) -> dict[str, float | None]:
    """Server CPU, Redis CPU and load-generator CPU between two load-relative times."""
    t1, t2 = raw.t0 + start, raw.t0 + end
    server = [(s[0], s[1]) for s in raw.samples if s[1] is not None]
    redis = [(s[0], s[3]) for s in raw.samples if s[3] is not None]
    cpu = delta(server, t1, t2) if server else None
    redis_cpu = delta(redis, t1, t2) if redis else None
    clients = [delta(points, t1, t2) for points in _client_cpu(raw) if points]
    client_cpu = sum(c for c in clients if c is not None) if clients else None
    return {"server_cpu_s": cpu, "redis_cpu_s": redis_cpu, "client_cpu_s": client_cpu}


def _steps(raw: RawRun, windows: dict[int, Histogram]) -> list[dict[str, Any]]:
    scenario = raw.scenario
    sent = _sum_counters(raw, "sent")
    out = []
    for index, (step, (start, end)) in enumerate(
        zip(scenario.steps, scenario.step_bounds(), strict=True)
    ):
        first = math.ceil(start) + (1 if end - start > 2 else 0)
        last = math.floor(end)  # windows [first, last)
        if last <= first:
            first, last = math.floor(start), max(math.floor(start) + 1, math.ceil(end))
        seconds = last - first
        hist = Histogram.merged(windows.get(w, Histogram()) for w in range(first, last))
        span = _span(raw, first, last)
        deliveries = hist.count
        cpu = span["server_cpu_s"]
        client_cpu = span["client_cpu_s"]
        out.append(
            {
                "index": index,
                "rate": step.rate,
                "seconds": step.seconds,
                "measured_seconds": seconds,
                "offered_deliveries_per_s": scenario.offered_deliveries(step),
                "sent": sent.get(str(index), 0),
                "deliveries": deliveries,
                "deliveries_per_s": _round(deliveries / seconds if seconds else None, 1),
                "latency_ms": hist.summary_ms(),
                "server_cpu_s": _round(cpu),
                "server_cpu_pct": _round(100 * cpu / seconds if cpu is not None else None, 1),
                "server_cpu_us_per_delivery": _round(
                    cpu * 1e6 / deliveries if cpu is not None and deliveries else None, 2
                ),
                "redis_cpu_s": _round(span["redis_cpu_s"]),
                "client_cpu_pct": _round(
                    100 * client_cpu / seconds / raw.processes if client_cpu is not None else None,
                    1,
                ),
            }
        )
    return out


def _timeline(raw: RawRun, windows: dict[int, Histogram]) -> list[dict[str, Any]]:
    rss = [(s[0], float(s[2])) for s in raw.samples if s[2] is not None]
    out = []
    last = math.ceil(raw.scenario.load_seconds + raw.scenario.drain)
    for w in range(0, last):
        hist = windows.get(w)
        span = _span(raw, w, w + 1)
        server_cpu, client_cpu = span["server_cpu_s"], span["client_cpu_s"]
        rss_now = value_at(rss, raw.t0 + w + 1)
        out.append(
            {
                "t": w,
                "deliveries": hist.count if hist else 0,
                "p50_ms": _ms(hist.percentile(50)) if hist else None,
                "p99_ms": _ms(hist.percentile(99)) if hist else None,
                "max_ms": _ms(hist.max) if hist else None,
                "server_cpu_pct": _round(100 * server_cpu if server_cpu is not None else None, 1),
                "server_rss_bytes": int(rss_now) if rss_now is not None else None,
                "client_cpu_pct": _round(
                    100 * client_cpu / raw.processes if client_cpu is not None else None, 1
                ),
            }
        )
    return out


#: The issue's definition of a server's capacity: the best step it kept up with (delivered
#: at least this share of what was offered) at a p99 at or under this many ms.
SUSTAINED_SHARE = 0.99
SUSTAINED_P99_MS = 100.0


def sustained_deliveries(steps: list[dict[str, Any]]) -> float | None:
    """The highest step's deliveries/s that kept up with its offered load (at least
    ``SUSTAINED_SHARE`` of it delivered) with a p99 of at most ``SUSTAINED_P99_MS``: what
    "max deliveries/s" means where a saturated server still delivers, late. None if no step
    qualifies."""
    best: float | None = None
    for step in steps:
        rate, offered = step.get("deliveries_per_s"), step.get("offered_deliveries_per_s")
        p99 = (step.get("latency_ms") or {}).get("p99")
        if rate is None or not offered or p99 is None:
            continue
        if rate >= SUSTAINED_SHARE * offered and p99 <= SUSTAINED_P99_MS:
            best = rate if best is None else max(best, rate)
    return best


def _ms(us: int | None) -> float | None:
    return None if us is None else round(us / 1000, 3)


def _joins(raw: RawRun) -> dict[str, Any]:
    merged = {
        kind: Histogram.merged(Histogram.from_dict(r["joins"][kind]) for r in raw.worker_results)
        for kind in ("join", "rejoin", "resume")
    }
    firsts = [r["first_attempt_us"] for r in raw.worker_results if r["first_attempt_us"]]
    lasts = [r["last_welcome_us"] for r in raw.worker_results if r["last_welcome_us"]]
    total = (max(lasts) - min(firsts)) / 1e6 if firsts and lasts else None
    cpu = None
    if raw.cpu_before_join is not None and raw.cpu_after_join is not None:
        cpu = raw.cpu_after_join - raw.cpu_before_join
    return {
        "planned": raw.scenario.total_clients,
        "ok": merged["join"].count,
        "failed": raw.scenario.total_clients - merged["join"].count,
        "total_s": _round(total),
        # the server's CPU for the storm and its settle: what the joins cost, whatever
        # else the machine was doing
        "server_cpu_s": _round(cpu),
        "latency_ms": merged["join"].summary_ms(),
        "rejoin_ms": merged["rejoin"].summary_ms(),
        "resume_ms": merged["resume"].summary_ms(),
    }


def analyse(raw: RawRun, target: dict[str, Any], machine: dict[str, Any]) -> dict[str, Any]:
    """The result document (see :mod:`bench.results` for its schema)."""
    healthy = _windows(raw, HEALTHY)
    slow = _windows(raw, "slow")
    load_windows = range(0, math.ceil(raw.scenario.load_seconds + raw.scenario.drain))
    overall = Histogram.merged(healthy.get(w, Histogram()) for w in load_windows)
    slow_all = Histogram.merged(slow.values())
    steps = _steps(raw, healthy)
    whole = _span(raw, 0, raw.scenario.load_seconds)
    all_deliveries = sum(
        h.count for w, h in healthy.items() if 0 <= w < raw.scenario.load_seconds
    ) + sum(h.count for w, h in slow.items() if 0 <= w < raw.scenario.load_seconds)
    cpu = whole["server_cpu_s"]
    rss_per = None
    if raw.rss_before is not None and raw.rss_connected is not None and raw.connected:
        rss_per = (raw.rss_connected - raw.rss_before) / raw.connected
    errors = _sum_counters(raw, "errors")
    rates = [s["deliveries_per_s"] for s in steps if s["deliveries_per_s"] is not None]
    return {
        "schema": "liveclass-bench/1",
        "label": target["name"],
        "target": target,
        "scenario": raw.scenario.to_dict(),
        "machine": machine,
        "started_at": datetime.fromtimestamp(raw.started_wall, UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "duration_s": _round(raw.duration, 2),
        "clients": {
            "planned": raw.scenario.total_clients,
            "connected_after_join": raw.connected,
            "processes": raw.processes,
            "cores": raw.client_cores,
        },
        "join": _joins(raw),
        "steps": steps,
        "latency_ms": overall.summary_ms(),
        "slow_latency_ms": slow_all.summary_ms() if slow_all.count else None,
        "deliveries": sum(int(r["deliveries"]) for r in raw.worker_results),
        "max_deliveries_per_s": max(rates) if rates else None,
        "sustained_deliveries_per_s": sustained_deliveries(steps),
        "server": {
            "pid_known": any(s[1] is not None for s in raw.samples),
            "rss_before_bytes": raw.rss_before,
            "rss_connected_bytes": raw.rss_connected,
            "rss_per_connection_bytes": _round(rss_per, 0),
            "cpu_s": _round(cpu),
            "cpu_us_per_delivery": _round(
                cpu * 1e6 / all_deliveries if cpu is not None and all_deliveries else None, 2
            ),
            "redis_cpu_s": _round(whole["redis_cpu_s"]),
        },
        "client": {
            "cpu_s": _round(whole["client_cpu_s"]),
            "frames": sum(int(r.get("frames", 0)) for r in raw.worker_results),
            "decoded_frames": sum(int(r.get("decoded_frames", 0)) for r in raw.worker_results),
        },
        "errors": errors,
        "unexpected_errors": sum(int(r["unexpected"]) for r in raw.worker_results),
        "closes": _sum_counters(raw, "closes"),
        "skipped_sends": sum(int(r["skipped"]) for r in raw.worker_results),
        "resume": _sum_counters(raw, "resume"),
        "seq": _sum_counters(raw, "seq"),
        "timeline": _timeline(raw, healthy),
        "histogram": overall.to_dict(),
    }
