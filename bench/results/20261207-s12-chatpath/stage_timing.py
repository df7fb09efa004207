"""Summarise the stage stamps of the temporary timing hook (stage-timing-hook.patch, applied to
a copy of the tree and run as ``liveclass@DIR`` / ``liveclass-redis@DIR``): ms per stage of each
chat message, per server process (the first is the embedded run, the second Redis where both ran).

    python bench/results/20261207-s12-chatpath/stage_timing.py FILE.jsonl
"""

import json
import statistics
import sys
from pathlib import Path

STAGES = [
    ("recv", "post", "frame read -> chat effect"),
    ("post", "admitted", "admission (switch, rate, seq)"),
    ("admitted", "stored", "group commit"),
    ("stored", "logged", "room log append"),
    ("logged", "bus_rx", "publish -> bus received"),
    ("stored", "bus_rx", "log + publish -> bus received"),
    ("bus_rx", "fanout", "bus event -> fan-out (reorder)"),
    ("fanout", "queued", "push to 500 outboxes"),
    ("queued", "flushed", "pushed -> last socket write"),
    ("recv", "fanout", "frame read -> fan-out start"),
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


rows = [json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines()]
pids = sorted({r["pid"] for r in rows}, key=lambda p: min(r["recv"] for r in rows if r["pid"] == p))
for pid in pids:
    mine = [r for r in rows if r["pid"] == pid]
    print(f"server pid {pid}: {len(mine)} messages")
    for a, b, what in STAGES:
        ms = [(r[b] - r[a]) * 1000 for r in mine if r.get(a, 0) > 0 and r.get(b, 0) > 0]
        if ms:
            print(
                f"  {what:<32} p50 {pct(ms, 0.5):6.3f}  p90 {pct(ms, 0.9):6.3f}  "
                f"p99 {pct(ms, 0.99):6.3f}  mean {statistics.mean(ms):6.3f}"
            )
