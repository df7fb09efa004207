"""The media bench's summary table and plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_media", "summary"]


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary(result: dict[str, Any]) -> str:
    c = result["config"]
    fw = result["forwarded"]
    loss = result["loss_pct"]
    ff = result["first_frame_ms"]
    fps = result["video_fps_received"]
    cap = result["capacity"]
    cpu = result["cpu"]
    rows = [
        (
            "subscribers / workers / sub. processes",
            f"{c['subscribers']} / {c['workers']} / {c['processes']}",
        ),
        ("media", f"{c['video']} + {c['audio']}"),
        ("joined / receiving", f"{result['join']['joined']} / {result['join']['receiving']}"),
        ("window", f"{result['window_s']} s"),
        (
            "forwarded packets/s",
            f"{_f(fw['packets_per_s'])} (video {_f(fw['video_packets_per_s'])}"
            f", audio {_f(fw['audio_packets_per_s'])})",
        ),
        (
            "worker CPU (s, utilisation)",
            ", ".join(
                f"{_f(s, 2)} ({_f(u, 2)})"
                for s, u in zip(cpu["workers_s"], cpu["workers_utilisation"], strict=True)
            ),
        ),
        (
            "worker waiting for a CPU (s)",
            ", ".join(_f(w, 2) for w in cpu.get("workers_waiting_for_cpu_s", [])),
        ),
        (
            "forwarded packets/s per core",
            f"{_f(result['packets_per_core_s'])}  (goal {_f(result['goal_packets_per_core_s'])})",
        ),
        ("worker CPU per packet", f"{_f(result['worker_us_per_packet'])} µs"),
        (
            "loss % p50 / p95 / max",
            f"{_f(loss['p50'], 3)} / {_f(loss['p95'], 3)} / {_f(loss['max'], 3)}",
        ),
        (
            "video fps received p50 / min",
            f"{_f(fps['p50'])} / "
            f"{_f(min((s['video_fps'] for s in result['subscribers']), default=None))}"
            f"  (publisher {_f(result['publisher']['video_fps'])}, "
            f"{_f(result['publisher']['packets_per_s'])} packets/s)",
        ),
        ("first frame ms p50 / p95 / max", f"{_f(ff['p50'])} / {_f(ff['p95'])} / {_f(ff['max'])}"),
        ("load generator CPU utilisation", ", ".join(_f(u, 2) for u in cpu["loadgen_utilisation"])),
        (
            "subscribers per worker at 100% CPU",
            f"{_f(cap['max_subscribers_per_worker'])} (µs/packet x publisher packets/s; "
            f"by utilisation {_f(cap['linear_max_subscribers_per_worker'])}) -> "
            f"{_f(cap['workers_for_class'])} workers for {cap['class_size']}",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    profile = result.get("profile")
    if profile and profile.get("self"):
        lines.append(
            f"profile of worker {profile['pid']} ({profile['samples']} samples), self time:"
        )
        lines += [f"  {p['pct']:5.1f}%  {p['function']}" for p in profile["self"][:12]]
    return "\n".join(lines)


def plot_media(result: dict[str, Any], out: Path) -> Path:
    """``media.png``: per-subscriber loss (sorted) and first-frame time distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    subs = result["subscribers"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    losses = sorted(s["loss_pct"] for s in subs)
    left.plot(range(1, len(losses) + 1), losses, marker=".", linestyle="-")
    left.set_xlabel("subscriber (sorted)")
    left.set_ylabel("packet loss %")
    left.set_title("Per-subscriber loss in the window")
    left.grid(True, alpha=0.3)
    firsts = sorted(s["first_frame_ms"] for s in subs if s.get("first_frame_ms") is not None)
    if firsts:
        right.plot(firsts, [(i + 1) / len(firsts) for i in range(len(firsts))])
    right.set_xlabel("first keyframe after connecting (ms)")
    right.set_ylabel("fraction of subscribers")
    right.set_title("First-frame time CDF")
    right.grid(True, alpha=0.3)
    c = result["config"]
    fig.suptitle(
        f"media bench: {c['subscribers']} subscribers, {c['workers']} worker(s), "
        f"{result['packets_per_core_s'] or '-'} forwarded packets/s per core"
    )
    fig.tight_layout()
    path = out / "media.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
