"""The result document: what analysis produces passes the schema, plots and reports read it,
and the schema check catches what is missing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench.analysis import analyse, sustained_deliveries
from bench.plots import plot_all
from bench.recorder import Recorder
from bench.report import ratio_table, summary
from bench.results import COMPARE_SCHEMA, load_results, save, validate
from bench.runner import RawRun
from bench.scenario import Step, preset


def fake_run(latency_us: int, per_second: int) -> RawRun:
    """A run as two workers would have reported it: known latencies, deliveries and CPU."""
    scenario = preset("class", clients=10, steps=(Step(5, 3), Step(10, 3)), churn=0.0)
    t0 = 1000.0
    raw = RawRun(scenario, processes=2, client_cores=[1])
    raw.t0 = t0
    raw.connected = 10
    raw.rss_before, raw.rss_connected = 50_000_000, 50_000_000 + 10 * 20_480
    for _worker in range(2):
        rec = Recorder()
        rec.t0_us = int(t0 * 1e6)
        for second in range(6):
            received = rec.t0_us + second * 1_000_000 + 500_000
            rec.latencies("healthy", received, [received - latency_us] * (per_second // 2))
        rec.joined("join", 1, 5001)
        rec.attempt(1)
        rec.sent[0] += 15
        rec.sent[1] += 30
        for k in range(0, 15):
            rec.cpu.append((t0 + k * 0.5, 0.1 * k))
        raw.worker_results.append(json.loads(json.dumps(rec.to_dict())))
    # the server burns 0.5 s of CPU per second of load
    raw.samples = [(t0 + k * 0.5, 0.25 * k, 60_000_000, None) for k in range(0, 16)]
    return raw


def result(label: str = "liveclass", latency_us: int = 4000, per_second: int = 1000) -> Any:
    target = {"name": label, "dialect": "liveclass", "url": "http://127.0.0.1:1", "spawned": True}
    return analyse(fake_run(latency_us, per_second), target, {"cpus": 2})


def test_analysis_output_passes_the_schema_and_is_json() -> None:
    data = result()
    assert validate(data) == []
    assert validate(json.loads(json.dumps(data))) == []


def test_figures_come_out_of_the_measurements() -> None:
    data = result(latency_us=4000, per_second=1000)
    assert data["latency_ms"]["p50"] == pytest.approx(4.0, rel=0.01)
    step = data["steps"][1]
    assert step["deliveries_per_s"] == 1000
    assert step["sent"] == 60
    assert step["server_cpu_pct"] == pytest.approx(50.0)
    assert step["server_cpu_us_per_delivery"] == pytest.approx(500.0)
    assert step["client_cpu_pct"] == pytest.approx(20.0)
    assert data["server"]["rss_per_connection_bytes"] == 20_480
    assert data["join"]["ok"] == 2
    assert data["join"]["latency_ms"]["p50"] == pytest.approx(5.0, rel=0.01)
    assert data["max_deliveries_per_s"] == 1000
    assert data["timeline"][0]["deliveries"] == 1000
    assert data["unexpected_errors"] == 0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("steps",), "missing steps"),
        (("join", "total_s"), "join: missing total_s"),
        (("latency_ms", "p99"), "latency_ms: missing p99"),
        (("server", "cpu_us_per_delivery"), "server: missing cpu_us_per_delivery"),
    ],
)
def test_the_schema_check_names_what_is_missing(path: tuple[str, ...], expected: str) -> None:
    data = copy.deepcopy(result())
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    assert any(expected in problem for problem in validate(data))


def test_the_schema_check_catches_wrong_types() -> None:
    data = copy.deepcopy(result())
    data["deliveries"] = "many"
    data["steps"][0]["sent"] = 1.5
    problems = validate(data)
    assert "result: deliveries is str" in problems
    data["deliveries"] = 1
    assert "steps[0]: sent is float" in validate(data)
    assert validate([]) == ["a result is a JSON object"]


def test_reports_and_plots_read_results(tmp_path: Path) -> None:
    ours, theirs = result(), result("node-socketio", latency_us=8000, per_second=500)
    table = ratio_table([ours, theirs], "liveclass", at=100)
    assert "node-socketio" in table
    assert "(0.50x)" in table  # half the deliveries per second
    assert "(2.00x)" in table  # twice the latency
    assert "liveclass" in summary(ours)
    paths = plot_all([ours, theirs], tmp_path / "plots")
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths)


def test_load_results_reads_single_and_compare_documents(tmp_path: Path) -> None:
    single = save(result(), tmp_path / "one.json")
    both = save(
        {"schema": COMPARE_SCHEMA, "results": [result(), result("websockets")]},
        tmp_path / "compare.json",
    )
    assert [r["label"] for r in load_results([single, both])] == [
        "liveclass",
        "liveclass",
        "websockets",
    ]
    (tmp_path / "bad.json").write_text('{"schema": "liveclass-bench/1"}')
    with pytest.raises(ValueError, match="not a bench result"):
        load_results([tmp_path / "bad.json"])


def _step(offered: float, delivered: float, p99: float | None) -> dict[str, Any]:
    return {
        "offered_deliveries_per_s": offered,
        "deliveries_per_s": delivered,
        "latency_ms": {"p99": p99},
    }


def test_kept_up_is_the_best_step_delivered_in_full_within_the_p99_bound() -> None:
    steps = [
        _step(80_000, 80_100, 66.8),  # kept up
        _step(120_000, 103_000, 515),  # saturated: delivers, but late and short
        _step(160_000, 112_600, 3088),
    ]
    assert sustained_deliveries(steps) == 80_100
    # delivered in full but over the p99 bound, or on time but short: neither counts
    assert sustained_deliveries([_step(10_000, 10_000, 101)]) is None
    assert sustained_deliveries([_step(10_000, 9_800, 5)]) is None
    assert sustained_deliveries([_step(10_000, 9_950, 100), _step(20_000, 19_900, 20)]) == 19_900
    assert sustained_deliveries([_step(10_000, None, None)]) is None  # type: ignore[arg-type]
