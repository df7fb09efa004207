"""PNG plots of one or more results (matplotlib, Agg backend: no display needed).

- ``latency_over_time.png``: p50 and p99 fan-out latency per second of the load;
- ``latency_cdf.png``: the distribution of fan-out latency over the whole load;
- ``throughput.png``: deliveries per second received against offered, per step;
- ``cpu_per_delivery.png``: server CPU µs per delivery against offered load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from bench.stats import Histogram

__all__ = ["plot_all"]


def _latency_over_time(results: list[dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(11, 5))
    for result in results:
        points = [p for p in result["timeline"] if p["p50_ms"] is not None]
        t = [p["t"] for p in points]
        (line,) = ax.plot(t, [p["p50_ms"] for p in points], label=f"{result['label']} p50")
        ax.plot(
            t,
            [p["p99_ms"] for p in points],
            linestyle="--",
            color=line.get_color(),
            label=f"{result['label']} p99",
        )
    ax.set_xlabel("seconds into the load")
    ax.set_ylabel("fan-out latency (ms)")
    ax.set_yscale("log")
    ax.set_title("Fan-out latency over time (p50 solid, p99 dashed)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cdf(results: list[dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 5))
    for result in results:
        points = Histogram.from_dict(result["histogram"]).cdf(400)
        if points:
            ax.plot([v / 1000 for v, _ in points], [f for _, f in points], label=result["label"])
    ax.set_xscale("log")
    ax.set_xlabel("fan-out latency (ms)")
    ax.set_ylabel("fraction of deliveries")
    ax.set_title("Fan-out latency CDF (whole load)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _per_step(
    results: list[dict[str, Any]], path: Path, key: str, ylabel: str, title: str, ideal: bool
) -> None:
    fig, ax = plt.subplots(figsize=(9, 5))
    top = 0.0
    for result in results:
        steps = [s for s in result["steps"] if s.get(key) is not None]
        offered = [s["offered_deliveries_per_s"] for s in steps]
        top = max([top, *offered])
        ax.plot(offered, [s[key] for s in steps], marker="o", label=result["label"])
    low = min(
        (s["offered_deliveries_per_s"] for r in results for s in r["steps"] if s.get(key)),
        default=0,
    )
    if ideal and top:
        ax.plot([low, top], [low, top], color="grey", linestyle=":", label="offered")
    if low > 0 and top / low >= 10:
        ax.set_xscale("log")
        if ideal:
            ax.set_yscale("log")
    ax.set_xlabel("offered deliveries per second")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_all(results: list[dict[str, Any]], out: Path, prefix: str = "") -> list[Path]:
    """Write the plots of ``results`` into ``out``; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        out / f"{prefix}latency_over_time.png",
        out / f"{prefix}latency_cdf.png",
        out / f"{prefix}throughput.png",
        out / f"{prefix}cpu_per_delivery.png",
    ]
    _latency_over_time(results, paths[0])
    _cdf(results, paths[1])
    _per_step(
        results,
        paths[2],
        "deliveries_per_s",
        "deliveries per second received",
        "Throughput against offered load",
        ideal=True,
    )
    _per_step(
        results,
        paths[3],
        "server_cpu_us_per_delivery",
        "server CPU µs per delivery",
        "Server cost per delivery",
        ideal=False,
    )
    return paths
