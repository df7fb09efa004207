"""``liveclass-bench crosscheck``: the Python and the Node load generator against the same
kind of server in one run, side by side (the Go generator: tests/bench/test_go_loadgen.py).

End to end with the embedded liveclass (20 clients, one 3 s step): both generators join every
client, deliver every message to everyone (no loss) and receive about the offered load in the
measured seconds. And the comparison rows and table, from made-up results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from bench.crosscheck import CROSSCHECK_SCHEMA, check_scenario, orders
from bench.crosscheck_report import comparison_rows, ratio, tables
from bench.scenario import Step, preset

CLIENTS = 20
RATE = 4  # messages/s into the room: 80 deliveries/s offered


def test_crosscheck_runs_both_generators_against_liveclass(tmp_path: Path) -> None:
    argv = ["crosscheck", "--targets", "liveclass", "--clients", str(CLIENTS)]
    argv += ["--steps", f"{RATE}x3", "--settle", "0.3", "--drain", "2", "--no-pin"]
    assert main([*argv, "--out", str(tmp_path)]) == 0

    (path,) = tmp_path.glob("crosscheck-*.json")
    document = json.loads(path.read_text())
    assert document["schema"] == CROSSCHECK_SCHEMA
    assert document["failures"] == []
    (run,) = document["runs"]
    assert run["node"]["generator"] == "node"
    assert run["node"]["dialect"] == "liveclass"
    assert run["python"]["label"] == "liveclass"

    step, summary = document["rows"]
    offered = RATE * CLIENTS
    assert step["offered_deliveries_per_s"] == offered
    for generator, delivered in zip(("python", "node"), step["deliveries_per_s"], strict=True):
        # the measured seconds (the step's first left out) hold about rate x clients each
        assert delivered is not None, generator
        assert 0.75 * offered <= delivered <= 1.25 * offered, generator
    assert all(p is not None for p in step["p50_ms"] + step["p99_ms"])
    assert step["lost"][1] == 0
    assert step["client_cpu_pct"][1] is not None  # the Node generator reports its own CPU
    assert summary["joined"] == [CLIENTS, CLIENTS]
    assert summary["sent"] == [RATE * 3, RATE * 3]
    assert summary["lost"] == [0, 0]
    assert run["node"]["deliveries"] == RATE * 3 * CLIENTS
    assert run["node"]["join"]["total_s"] is not None
    assert "liveclass" in (tmp_path / f"{path.stem}.txt").read_text()


def _result(deliveries: float, p50: float, p99: float) -> dict[str, Any]:
    return {
        "steps": [
            {
                "rate": 20,
                "offered_deliveries_per_s": 10_000,
                "sent": 80,
                "deliveries_per_s": deliveries,
                "latency_ms": {"p50": p50, "p99": p99},
                "client_cpu_pct": 40.0,
                "lost": 0,
            }
        ],
        "join": {"total_s": 1.0, "ok": 500, "planned": 500},
        "deliveries": 80 * 500,
        "sent": 80,
        "lost": 0,
        "errors": {},
    }


def test_rows_give_node_over_python_and_whether_they_agree_within_1_5x() -> None:
    pair = {
        "target": "liveclass",
        "round": 1,
        "order": ["python", "node"],
        "python": _result(10_000, 4.0, 10.0),
        "node": _result(9_000, 5.0, 16.0),
    }
    step, run = comparison_rows(pair, ["python", "node"])
    assert step["ratios"] == {
        "node/python": {"deliveries_per_s": 0.9, "p50_ms": 1.25, "p99_ms": 1.6}
    }
    assert step["agree"] == {"node/python": False}  # p99 differs by 1.6x
    assert run["lost"] == [0, 0]
    assert run["join_ratios"] == {"node/python": 1.0}
    text = tables([step, run])
    assert "node/python     0.90x   1.25x   1.60x  NO" in text
    assert "node        9000     5.00     16.0" in text

    pair["node"] = _result(9_000, 5.0, 12.0)
    assert comparison_rows(pair, ["python", "node"])[0]["agree"] == {"node/python": True}


def test_three_generators_give_go_over_node_and_over_python_and_each_ones_cpu() -> None:
    go = _result(9_500, 5.5, 13.0)
    go["steps"][0]["client_cpu_pct"] = 20.0
    go["steps"][0]["event_loop_delay_p99_ms"] = 0.3
    go["steps"][0]["fanout_spread_ms"] = {"p50": 4.2, "p99": 9.0}
    pair = {
        "target": "node-socketio",
        "round": 2,
        "order": ["node", "go", "python"],
        "python": _result(10_000, 11.0, 30.0),
        "node": _result(9_000, 5.0, 12.0),
        "go": go,
    }
    step, run = comparison_rows(pair, ["python", "node", "go"])
    assert list(step["ratios"]) == ["node/python", "go/node", "go/python"]
    assert step["ratios"]["go/node"] == {"deliveries_per_s": 1.056, "p50_ms": 1.1, "p99_ms": 1.083}
    assert step["agree"] == {"node/python": False, "go/node": True, "go/python": False}
    assert step["client_cpu_pct"] == [40.0, 40.0, 20.0]
    assert step["scheduling_delay_p99_ms"] == [None, None, 0.3]
    assert run["sent"] == [80, 80, 80]
    text = tables([step, run])
    assert "go/node         1.06x   1.10x   1.08x  yes" in text
    assert step["fanout_spread_p50_ms"] == [None, None, 4.2]
    assert "go          9500     5.50     13.0     20.0       0         0.30       4.20" in text
    assert "order node→go→python" in text


def test_rounds_rotate_the_generators_order() -> None:
    assert orders(["python", "node"], 3) == [
        ["python", "node"],
        ["node", "python"],
        ["python", "node"],
    ]
    assert orders(["python", "node", "go"], 3)[1:] == [
        ["node", "go", "python"],
        ["go", "python", "node"],
    ]


def test_a_failed_generator_leaves_its_figures_empty() -> None:
    pair: dict[str, Any] = {"target": "websockets", "round": 1, "order": ["python", "node"]}
    pair["python"] = _result(10_000, 4.0, 10.0)
    step, run = comparison_rows(pair, ["python", "node"])
    assert step["deliveries_per_s"] == [10_000, None]
    assert step["agree"] == {"node/python": None}
    assert run["lost"] == [0, None]
    assert ratio(1.0, 0) is None
    assert "-" in tables([step, run])


def test_crosscheck_refuses_what_the_node_generator_does_not_play() -> None:
    with pytest.raises(ValueError, match="one room"):
        check_scenario(preset("class", clients=10, steps=(Step(1, 1),), churn=1.0))
    with pytest.raises(ValueError, match="JSON"):
        check_scenario(preset("class", clients=10, steps=(Step(1, 1),), churn=0, codec="msgpack"))
    assert main(["crosscheck", "--targets", "nope"]) == 2
    assert main(["crosscheck", "--targets", "liveclass", "--generators", "python,rust"]) == 2
