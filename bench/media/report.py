"""The media bench's summary table and plot (liveclass and Janus side by side)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.media.independent_report import agreement_lines

__all__ = ["plot_media", "summary"]


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


_COLUMNS = (
    "target",
    "subs",
    "µs/packet",
    "SFU CPU",
    "SFU waited s",
    "video lost %",
    "audio lost %",
    "delay v/a p50 ms",
    "late served, p50 ms",
    "loadgen CPU max",
    "subs µs/rx pkt",
    "loadgen waited s",
)


def _row(run: dict[str, Any]) -> list[str]:
    video, audio = run["frames"]["video"], run["frames"]["audio"]
    late = run["late_joiners"]
    cpu = run["cpu"]
    return [
        run["target"],
        str(run["subscribers"]),
        _f(run["us_per_packet"]),
        ", ".join(_f(u, 2) for u in cpu["sfu_utilisation"]),
        ", ".join(_f(w, 2) for w in cpu["sfu_waiting_for_cpu_s"]),
        _f(video["lost_pct"], 2),
        _f(audio["lost_pct"], 2),
        f"{_f(video['delay_p50_ms'])} / {_f(audio['delay_p50_ms'])}",
        f"{late['served']}/{late['joined']}, {_f(late['join_to_frame_ms']['p50'], 0)}",
        _f(max((u or 0 for u in cpu["loadgen_utilisation"]), default=None), 2),
        _f(cpu.get("subscriber_us_per_received_packet")),
        ", ".join(_f(w, 2) for w in cpu.get("loadgen_waiting_for_cpu_s", [])),
    ]


def _table(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return lines


def summary(result: dict[str, Any]) -> str:
    c = result["config"]
    lines = [
        f"media: {c['video']} + {c['audio']}; {c['workers']} liveclass worker(s); "
        f"window {c['duration_s']} s; {c['late_joiners']} late joiners per run",
        "",
    ]
    lines += _table(_COLUMNS, [_row(r) for r in result["runs"]])
    lines.append("")
    for row in result["comparison"]:
        ratio = row.get("us_per_packet_vs_janus")
        frames_ratio = row.get("frames_us_per_packet_vs_janus")
        figures = ", ".join(
            f"{t} {_f(row[t]['us_per_packet'])} µs" for t in ("liveclass", "janus") if t in row
        )
        lines.append(
            f"{row['subscribers']} subscribers (medians): {figures}"
            + (f" -> liveclass / Janus = {ratio:.2f}x" if ratio else "")
            + (f" (frame path {frames_ratio:.2f}x)" if frames_ratio else "")
        )
    lines += agreement_lines(result["runs"])
    for run in result["runs"]:
        profile = run.get("profile")
        if profile and profile.get("self"):
            lines.append(
                f"profile of {run['target']} worker {profile['pid']} "
                f"({profile['samples']} samples), self time:"
            )
            lines += [f"  {p['pct']:5.1f}%  {p['function']}" for p in profile["self"][:12]]
    return "\n".join(lines)


def plot_media(result: dict[str, Any], out: Path) -> Path:
    """``media.png``: µs CPU per forwarded packet and video frames lost, per target and N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for target in sorted({r["target"] for r in result["runs"]}):
        runs = [r for r in result["runs"] if r["target"] == target]
        left.plot(
            [r["subscribers"] for r in runs],
            [r["us_per_packet"] or 0 for r in runs],
            marker="o",
            linestyle="",
            label=target,
        )
        right.plot(
            [r["subscribers"] for r in runs],
            [r["frames"]["video"]["lost_pct"] or 0 for r in runs],
            marker="o",
            linestyle="",
            label=target,
        )
    left.set_xlabel("subscribers")
    left.set_ylabel("SFU µs CPU per forwarded packet")
    left.set_title("CPU per forwarded packet (each run)")
    right.set_xlabel("subscribers")
    right.set_ylabel("video frames lost end to end (%)")
    right.set_title("Frames lost (tagged at the publisher)")
    for axis in (left, right):
        axis.grid(True, alpha=0.3)
        axis.legend()
    fig.tight_layout()
    path = out / "media.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
