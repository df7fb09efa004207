"""Text reports: one run's summary, and the comparison table with every target as a ratio to
liveclass (value ÷ liveclass's value; whether higher or lower is better is in the header)."""

from __future__ import annotations

from typing import Any

__all__ = ["METRICS", "metric", "ratio_table", "step_near", "summary"]


def _fmt(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 10_000:
        return f"{value / 1000:.1f}k"
    if isinstance(value, int) or abs(value) >= 100:
        return str(round(value))
    if abs(value) < 1:
        return f"{value:.{max(digits, 2)}f}"
    return f"{value:.{digits}f}"


def step_near(result: dict[str, Any], offered: float) -> dict[str, Any] | None:
    """The step whose offered deliveries per second are closest to ``offered``."""
    steps = result.get("steps") or []
    if not steps:
        return None
    best: dict[str, Any] = min(
        steps, key=lambda s: abs(float(s["offered_deliveries_per_s"]) - offered)
    )
    return best


def summary(result: dict[str, Any]) -> str:
    join = result["join"]
    server = result["server"]
    lines = [
        f"== {result['label']}: {result['scenario']['name']}, "
        f"{result['scenario']['total_clients']} clients in {result['scenario']['rooms']} room(s)",
        f"joined {join['ok']}/{join['planned']} in {_fmt(join['total_s'], 2)} s "
        f"(server CPU {_fmt(join.get('server_cpu_s'), 2)} s); join latency ms "
        f"p50 {_fmt(join['latency_ms']['p50'])} p95 {_fmt(join['latency_ms']['p95'])} "
        f"p99 {_fmt(join['latency_ms']['p99'])}",
    ]
    header = (
        f"{'offered/s':>10} {'sent':>6} {'deliv/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'srv CPU%':>8} {'µs/deliv':>8} {'client CPU%':>11}"
    )
    lines.append(header)
    for step in result["steps"]:
        latency = step["latency_ms"]
        lines.append(
            f"{_fmt(step['offered_deliveries_per_s'], 0):>10} {step['sent']:>6} "
            f"{_fmt(step['deliveries_per_s'], 0):>9} {_fmt(latency['p50'], 2):>8} "
            f"{_fmt(latency['p95'], 2):>8} {_fmt(latency['p99'], 2):>8} "
            f"{_fmt(latency['max'], 2):>8} {_fmt(step['server_cpu_pct']):>8} "
            f"{_fmt(step['server_cpu_us_per_delivery']):>8} {_fmt(step['client_cpu_pct']):>11}"
        )
    rss = server.get("rss_per_connection_bytes")
    lines.append(
        f"deliveries {result['deliveries']}; server CPU {_fmt(server['cpu_s'], 2)} s, "
        f"{_fmt(server['cpu_us_per_delivery'])} µs per delivery; RSS per connection "
        f"{_fmt(rss / 1024 if rss is not None else None)} KiB"
        + (f"; Redis CPU {_fmt(server['redis_cpu_s'], 2)} s" if server.get("redis_cpu_s") else "")
    )
    for key, label in (("rejoin_ms", "rejoin"), ("resume_ms", "resume")):
        stats = join.get(key) or {}
        if stats.get("count"):
            lines.append(
                f"{label}: {stats['count']} latency ms p50 {_fmt(stats['p50'])} "
                f"p99 {_fmt(stats['p99'])} max {_fmt(stats['max'])}"
            )
    if result.get("resume"):
        lines.append(f"resume: {result['resume']}; sequence: {result.get('seq') or {}}")
    if result.get("slow_latency_ms"):
        slow = result["slow_latency_ms"]
        lines.append(
            f"slow consumers: {slow['count']} deliveries, p50 {_fmt(slow['p50'])} "
            f"p99 {_fmt(slow['p99'])} ms"
        )
    lines.append(
        f"errors: {result['errors'] or 'none'} (unexpected {result['unexpected_errors']}); "
        f"closes not asked for: {result['closes'] or 'none'}"
    )
    return "\n".join(lines)


# (key, header, higher is better)
METRICS: list[tuple[str, str, bool]] = [
    ("max_deliveries_per_s", "max deliv/s", True),
    ("sustained_deliveries_per_s", "kept up/s", True),
    ("cpu_us_per_delivery", "µs CPU/deliv", False),
    ("p50_at", "p50 ms@", False),
    ("p99_at", "p99 ms@", False),
    ("rss_kib", "KiB/conn", False),
    ("join_s", "join all s", False),
    ("join_cpu_s", "join CPU s", False),
]


def metric(result: dict[str, Any], key: str, at: float) -> float | None:
    """One comparison figure of ``result`` (``at``: offered deliveries/s for latencies)."""
    if key in ("max_deliveries_per_s", "sustained_deliveries_per_s"):
        value = result.get(key)  # results older than the sustained figure lack it
        return float(value) if value is not None else None
    if key == "cpu_us_per_delivery":
        value = result["server"].get("cpu_us_per_delivery")
        return float(value) if value is not None else None
    if key in ("p50_at", "p99_at"):
        step = step_near(result, at)
        value = step["latency_ms"][key[:3]] if step else None
        return float(value) if value is not None else None
    if key == "rss_kib":
        value = result["server"].get("rss_per_connection_bytes")
        return float(value) / 1024 if value is not None else None
    if key == "join_s":
        value = result["join"].get("total_s")
        return float(value) if value is not None else None
    if key == "join_cpu_s":
        value = result["join"].get("server_cpu_s")
        return float(value) if value is not None else None
    raise KeyError(key)


def ratio_table(
    results: list[dict[str, Any]], reference: str = "liveclass", at: float = 10_000
) -> str:
    """Every result's figures, each with its ratio to ``reference``'s."""
    ref = next((r for r in results if r["label"] == reference), None)
    near = step_near(ref or results[0], at) if results else None
    at_label = _fmt(near["offered_deliveries_per_s"], 0) if near else "-"
    headers = [f"{h}{at_label}" if k in ("p50_at", "p99_at") else h for k, h, _ in METRICS]
    width = 20
    lines = [
        f"{'target':<18}" + "".join(f"{h:>{width}}" for h in headers) + f"{'errors':>8}",
        " " * 18
        + "".join(
            f"{('higher' if up else 'lower') + ' is better':>{width}}" for _, _, up in METRICS
        ),
    ]
    for result in results:
        cells = []
        for key, _, _ in METRICS:
            value = metric(result, key, at)
            base = metric(ref, key, at) if ref is not None else None
            ratio = f" ({value / base:.2f}x)" if value is not None and base else ""
            cells.append(f"{_fmt(value)}{ratio}")
        lines.append(
            f"{result['label']:<18}"
            + "".join(f"{c:>{width}}" for c in cells)
            + f"{result['unexpected_errors']:>8}"
        )
    lines.append(f"ratios are value / {reference}'s value")
    return "\n".join(lines)
