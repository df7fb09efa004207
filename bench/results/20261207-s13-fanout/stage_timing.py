"""Summarise the stamps of ``stage-timing-hook.patch`` (applied to a ``git archive`` copy run as
``liveclass@DIR``; it writes /tmp/lead-timing.jsonl): ms per stage of each chat message, per
server process, and the loop thread's CPU time from the frame read to the fan-out.

    python stage_timing.py FILE.jsonl
"""

import json
import sys
from pathlib import Path

STAGES = [
    ("arrived", "recv", "socket data -> hub reads frame"),
    ("recv", "post", "frame -> chat store call"),
    ("post", "admitted", "admission"),
    ("admitted", "stored", "row + group commit"),
    ("stored", "bus_rx", "log+publish -> bus event"),
    ("bus_rx", "fanout", "bus event -> fan-out"),
    ("fanout", "first", "fan-out start -> first write"),
    ("fanout", "queued", "whole fan-out"),
    ("arrived", "first", "socket data -> first write"),
    ("cpu_recv", "cpu_fanout", "CPU: frame read -> fan-out"),
]


def q(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    rows = [json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines()]
    pids = sorted(
        {r["pid"] for r in rows}, key=lambda p: min(r["recv"] for r in rows if r["pid"] == p)
    )
    for pid in pids:
        mine = [r for r in rows if r["pid"] == pid]
        print("pid", pid, len(mine))
        for a, b, what in STAGES:
            ms = [(r[b] - r[a]) * 1e3 for r in mine if r.get(a, 0) > 0 and r.get(b, 0) > 0]
            if ms:
                print(
                    f"  {what:32s} p50 {q(ms, 0.5):7.3f} p90 {q(ms, 0.9):7.3f}"
                    f" p99 {q(ms, 0.99):7.3f}"
                )


if __name__ == "__main__":
    main()
