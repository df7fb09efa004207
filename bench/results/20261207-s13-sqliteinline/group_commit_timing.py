"""Summarise group-commit-timing.patch's lines (``group-commit-<run>.txt``): ms per step of the
chat groups (1-3 rows), per server process, in the order the processes first wrote.

    python bench/results/20261207-s13-sqliteinline/group_commit_timing.py FILE.txt
"""

import sys
from pathlib import Path

STEPS = ["add -> writer starts group", "commit (turn+insert)", "committed -> add returns"]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


rows = [line.split() for line in Path(sys.argv[1]).read_text().splitlines()]
pids = list(dict.fromkeys(row[4] for row in rows))
for pid in pids:
    mine = [row for row in rows if row[4] == pid and int(row[3]) <= 3]
    print(f"server pid {pid}: {len(mine)} rows in groups of 1-3")
    for i, what in enumerate(STEPS):
        ms = [float(row[i]) for row in mine]
        print(
            f"  {what:<30} p50 {pct(ms, 0.5):.3f} p90 {pct(ms, 0.9):.3f} "
            f"p99 {pct(ms, 0.99):.3f} max {max(ms):.3f}"
        )
