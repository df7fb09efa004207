"""Per server process of a stage-timing file: how many chat messages went out by which path
(``via``: ``local`` = right after the room log's publication, ``bus`` = by the echo, no field =
a tree without local delivery), and stored -> fan-out start, frame read -> fan-out start (ms).

    python bench/results/20261207-s13-localecho/stage_via.py FILE.jsonl
"""

import collections
import json
import sys
from pathlib import Path

BASE = "(no local delivery)"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


rows = [json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines()]
pids = sorted({r["pid"] for r in rows}, key=lambda p: min(r["recv"] for r in rows if r["pid"] == p))
for pid in pids:
    mine = [r for r in rows if r["pid"] == pid]
    paths = collections.Counter(r.get("via", BASE) for r in mine)
    print(f"server pid {pid}: {dict(paths)}")
    for path in [None, *sorted(paths)]:
        chosen = [r for r in mine if path is None or r.get("via", BASE) == path]
        for a, b in [("stored", "fanout"), ("recv", "fanout")]:
            ms = [(r[b] - r[a]) * 1000 for r in chosen if r.get(a, 0) > 0 and r.get(b, 0) > 0]
            if ms:
                label = "all" if path is None else f"via {path}"
                print(
                    f"  {label:<24} {a}->{b:<7} p50 {pct(ms, 0.5):6.3f}  p90 {pct(ms, 0.9):6.3f}"
                    f"  p99 {pct(ms, 0.99):6.3f}  n={len(ms)}"
                )
