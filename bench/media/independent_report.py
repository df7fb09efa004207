"""The bench's media figures beside the independent ones (:mod:`bench.media.independent`).

Every figure is a rate (per second of each side's own window, the two windows differing by
the few milliseconds perf takes to attach) or µs per packet, so the windows need not match
exactly. A ratio is the bench's figure ÷ the independent one; they *agree* within
:data:`TOLERANCE` (the issue's 1.5x) either way.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TOLERANCE", "agreement", "agreement_lines", "ratio"]

TOLERANCE = 1.5


def ratio(bench: float | None, independent: float | None) -> float | None:
    """``bench / independent`` to 3 places; None when either is unknown or zero."""
    if not bench or not independent:
        return None
    return round(bench / independent, 3)


def _per_s(count: float | None, seconds: float | None) -> float | None:
    return round(count / seconds, 1) if count is not None and seconds else None


def agreement(run: dict[str, Any], independent: dict[str, Any]) -> dict[str, Any]:
    """Bench and independent figures of one run side by side, with their ratios and whether
    all of them agree within :data:`TOLERANCE`."""
    window = run["window_s"]
    sfu = run["cpu"]["sfu_s"]
    bench_cpu = sum(sfu) if sfu and None not in sfu else None
    frames = independent["sent"]["frames"]
    seconds = independent["window_s"]
    pairs = {
        "packets_per_s": (run["forwarded"]["packets_per_s"], independent["packets_per_s"]),
        "sfu_cpu_utilisation": (
            None if bench_cpu is None else round(bench_cpu / window, 3),
            None if independent["cpu_s"] is None else round(independent["cpu_s"] / seconds, 3),
        ),
        "us_per_packet": (run["us_per_packet"], independent["us_per_packet"]),
        "video_frames_per_s": (
            _per_s(run["frames"]["video"]["received"], window),
            _per_s(frames["video"], seconds),
        ),
        "audio_frames_per_s": (
            _per_s(run["frames"]["audio"]["received"], window),
            _per_s(frames["audio"], seconds),
        ),
    }
    figures = {
        name: {"bench": b, "independent": i, "ratio": ratio(b, i)} for name, (b, i) in pairs.items()
    }
    ratios = [f["ratio"] for f in figures.values()]
    agrees = all(r is not None and 1 / TOLERANCE <= r <= TOLERANCE for r in ratios)
    return {"figures": figures, "agrees_within_1_5x": agrees}


_LABELS = (
    ("packets_per_s", "pkts/s"),
    ("sfu_cpu_utilisation", "SFU CPU"),
    ("us_per_packet", "µs/pkt"),
    ("video_frames_per_s", "video fr/s"),
    ("audio_frames_per_s", "audio fr/s"),
)


def _cell(figure: dict[str, Any]) -> str:
    def f(v: Any) -> str:
        return "-" if v is None else f"{v:,}"

    return f"{f(figure['bench'])} / {f(figure['independent'])} = {f(figure['ratio'])}"


def agreement_lines(runs: list[dict[str, Any]]) -> list[str]:
    """A table: per run each figure as ``bench / independent = ratio``."""
    rows = [r for r in runs if r.get("independent")]
    if not rows:
        return []
    header = ["target", "subs", *(label for _, label in _LABELS), "within 1.5x", "capture"]
    body = []
    for run in rows:
        check = run["independent"]
        figures = check["agreement"]["figures"]
        sent = check["sent"]
        body.append(
            [
                run["target"],
                str(run["subscribers"]),
                *(_cell(figures[key]) for key, _ in _LABELS),
                "yes" if check["agreement"]["agrees_within_1_5x"] else "NO",
                f"late rtp {sent['rtp_late']}, rtcp {sent['rtcp']}, "
                f"dropped {check['capture_dropped']}",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    lines = [
        "independent check (bench / capture+perf = ratio):",
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return lines
