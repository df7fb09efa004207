"""The Go load generator of ``crosscheck`` (bench/go, built by scripts/ensure-go-tools.sh,
which CI runs: scripts/test.sh).

Its pure parts (windows, schedule, percentiles, the chat marker scan, the config) by ``go
test``; the binary refuses a config it cannot play; and end to end, like the Node generator's
test (tests/bench/test_crosscheck.py), against the embedded liveclass and the Node socket.io
server (whose Engine.IO / socket.io framing the Go generator speaks by hand): every client
joins, every message reaches everyone, and about the offered load arrives in the measured
seconds, with the generator's own CPU and scheduling delay reported."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bench.cli import main
from bench.loadgens import GO_DIR, go_setup, loadgen_config
from bench.scenario import Step, preset

CLIENTS = 20
RATE = 4  # messages/s into the room: 80 deliveries/s offered


def test_go_unit_tests_pass() -> None:
    go_setup(quiet=True)  # installs Go from Debian where CI has none
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOFLAGS": ""}
    env["GOCACHE"] = str(GO_DIR / "build" / "cache")
    done = subprocess.run(
        ["go", "test", "."], cwd=GO_DIR, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_binary_refuses_an_unknown_dialect(tmp_path: Path) -> None:
    scenario = preset("class", clients=2, steps=(Step(2, 3),), churn=0)
    config = loadgen_config("mqtt", ["ws://127.0.0.1:1/"], scenario)
    assert config["steps"] == [{"rate": 2, "seconds": 3}]
    (tmp_path / "config.json").write_text(json.dumps(config))
    done = subprocess.run(
        [str(go_setup(quiet=True)), str(tmp_path / "config.json"), str(tmp_path / "result.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown dialect" in done.stderr
    assert not (tmp_path / "result.json").exists()


def test_the_go_generator_measures_liveclass_and_socketio(tmp_path: Path) -> None:
    argv = ["crosscheck", "--generators", "go", "--targets", "liveclass,node-socketio"]
    argv += ["--clients", str(CLIENTS), "--steps", f"{RATE}x3", "--settle", "0.3", "--drain", "2"]
    assert main([*argv, "--no-pin", "--out", str(tmp_path)]) == 0

    (path,) = tmp_path.glob("crosscheck-*.json")
    document = json.loads(path.read_text())
    assert document["failures"] == []
    assert document["generators"] == ["go"]
    offered = RATE * CLIENTS
    for run, dialect in zip(document["runs"], ("liveclass", "socketio"), strict=True):
        go = run["go"]
        assert (go["generator"], go["dialect"]) == ("go", dialect)
        assert go["join"]["ok"] == CLIENTS
        assert go["join"]["total_s"] is not None
        assert go["errors"] == {}
        assert go["closes"] == {}
        assert go["sent"] == RATE * 3
        assert go["deliveries"] == RATE * 3 * CLIENTS
        assert go["lost"] == 0
        (step,) = go["steps"]
        # the measured seconds (the step's first left out) hold about rate x clients each
        assert 0.75 * offered <= step["deliveries_per_s"] <= 1.25 * offered, dialect
        assert step["latency_ms"]["p50"] is not None
        assert step["client_cpu_pct"] is not None
        assert step["event_loop_delay_p99_ms"] is not None
        assert step["fanout_spread_ms"]["p50"] is not None
