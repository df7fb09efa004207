"""Where a full run's wall time goes: an opt-in pytest plugin and its report.

Record (each xdist worker writes ``<dir>/<worker>.jsonl``: every test's start and end, set-up
and tear-down included)::

    LIVECLASS_TEST_TIMELINE=/tmp/timeline pytest -n 2 --dist loadgroup -p tests.timeline

Report (per worker: when it started and finished, how long it was busy, gaps over 1 s, the
busiest directories; then the test files by the time they took)::

    python -m tests.timeline /tmp/timeline
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

_out: IO[str] | None = None


def _file() -> IO[str]:
    global _out
    if _out is None:
        root = Path(os.environ.get("LIVECLASS_TEST_TIMELINE", "/tmp/liveclass-timeline"))
        root.mkdir(parents=True, exist_ok=True)
        name = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _out = (root / f"{name}.jsonl").open("a")
    return _out


def _write(nodeid: str, start: float, end: float) -> None:
    out = _file()
    out.write(json.dumps({"id": nodeid, "s": start, "e": end}) + "\n")
    out.flush()


def pytest_sessionstart(session: pytest.Session) -> None:
    now = time.time()
    _write("<sessionstart>", now, now)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _out
    if _out is not None:
        _out.close()
        _out = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    start = time.time()
    try:
        return (yield)
    finally:
        _write(item.nodeid, start, time.time())


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def report(root: Path) -> str:
    lines: list[str] = []
    workers = sorted(p for p in root.glob("gw*.jsonl"))
    starts = [r["s"] for p in workers for r in _rows(p) if r["id"] == "<sessionstart>"]
    t0 = min(starts) if starts else 0.0
    per_file: Counter[str] = Counter()
    for path in workers:
        tests = sorted(
            (r for r in _rows(path) if r["id"] != "<sessionstart>"), key=lambda r: r["s"]
        )
        if not tests:
            continue
        busy = sum(r["e"] - r["s"] for r in tests)
        lines.append(
            f"{path.stem}: first test +{tests[0]['s'] - t0:.1f} s, last end "
            f"+{max(r['e'] for r in tests) - t0:.1f} s, busy {busy:.1f} s, {len(tests)} tests"
        )
        previous = tests[0]["s"]
        per_dir: Counter[str] = Counter()
        for r in tests:
            if r["s"] - previous > 1.0:
                lines.append(f"  idle {r['s'] - previous:.1f} s before {r['id']}")
            previous = r["e"]
            file = r["id"].split("::")[0]
            per_dir["/".join(file.split("/")[:2])] += r["e"] - r["s"]
            per_file[file] += r["e"] - r["s"]
        lines.append("  " + ", ".join(f"{k} {v:.0f} s" for k, v in per_dir.most_common(10)))
    lines.append(f"all workers: {sum(per_file.values()):.0f} s of tests")
    lines += [f"{v:8.1f} s  {file}" for file, v in per_file.most_common(40)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1])))
