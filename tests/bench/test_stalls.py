"""bench/servers/stalls.py records the event loop's stalls and GC pauses between its signals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.servers.stalls import SCHEMA, summary

REPO = Path(__file__).resolve().parents[2]


def test_a_stall_and_a_collection_inside_the_recording_are_recorded(tmp_path: Path) -> None:
    out = tmp_path / "stalls.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "bench/servers/stalls.py"),
            str(out),
            "tests.bench.stall_target",
        ],
        cwd=REPO,
        check=True,
        timeout=60,
    )
    document = json.loads(out.read_text())
    assert document["schema"] == SCHEMA
    # The stall inside the recording is recorded with its stack; the one after SIGUSR2 is
    # not. (On a loaded machine the start-up can stretch into the recording too: only the
    # target's own stalls are counted.)
    stalls = [s for s in document["stretches"] if "busy_for" in s["stack"]]
    assert len(stalls) == 1
    assert stalls[0]["cpu_ms"] >= 150
    assert [c["generation"] for c in document["gc"]].count(2) >= 1
    assert "busy_for" in summary(document)
