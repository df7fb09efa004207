"""End to end: ``liveclass-bench run`` against a real ``liveclass serve`` on its embedded
defaults (SQLite, fakeredis, generated secret), 20 clients for 2 seconds of chat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from bench.execute import RunOptions, execute
from bench.results import load_results, save, validate
from bench.scenario import Step, preset
from bench.targets import TargetOptions
from tests.integration.cluster import start_node


async def test_run_against_a_liveclass_server_the_test_started(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with start_node("bench-smoke", {}, data) as node:
        secret = (data / "secret-key").read_text().strip()
        scenario = preset(
            "class", clients=20, steps=(Step(4, 2),), churn=0.0, settle=0.3, drain=2.0
        )
        options = RunOptions(
            TargetOptions(url=node.http, secret=secret, server_pid=node.process.pid),
            processes=2,
            pin=False,
            progress=False,
        )
        result = await execute("url", scenario, options)

    assert validate(result) == [], validate(result)
    assert result["join"]["ok"] == 20
    assert result["deliveries"] > 0
    assert result["unexpected_errors"] == 0, result["errors"]
    assert result["closes"] == {}
    # 4 messages/s for 2 s reach all 20 clients: the step's deliveries come close to that
    assert result["steps"][0]["sent"] == 8
    assert result["deliveries"] == 8 * 20
    assert result["latency_ms"]["p99"] is not None
    assert result["server"]["pid_known"] is True
    assert result["server"]["cpu_s"] is not None

    # the plot command reads what run wrote
    path = save(result, tmp_path / "smoke.json")
    assert load_results([path])[0]["label"] == "url"
    assert main(["plot", str(path), "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "throughput.png").is_file()


def test_run_refuses_a_url_without_a_way_to_mint_tokens() -> None:
    assert main(["run", "--url", "http://127.0.0.1:9"]) == 2


# Small versions of every scenario: what each must show, not how fast.
SMALL: dict[str, dict[str, Any]] = {
    "join": {"clients": 12},
    "class": {"clients": 12, "steps": (Step(4, 2),), "churn": 1.0},
    "rooms": {"clients": 4, "rooms": 3, "steps": (Step(2, 2),)},
    "slow": {"clients": 12, "slow": 2, "steps": (Step(4, 2),)},
    "resume": {"clients": 12, "steps": (Step(4, 4),), "resume_at": 1.0},
}


@pytest.mark.parametrize("name", sorted(SMALL))
async def test_every_scenario_runs_against_a_url(name: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with start_node(f"bench-{name}", {}, data) as node:
        secret = (data / "secret-key").read_text().strip()
        scenario = preset(name, settle=0.3, drain=2.0, **SMALL[name])
        options = RunOptions(
            TargetOptions(url=node.http, secret=secret, server_pid=node.process.pid),
            processes=1,
            pin=False,
            progress=False,
        )
        result = await execute("url", scenario, options)
    assert validate(result) == [], validate(result)
    assert result["join"]["ok"] == scenario.total_clients
    assert result["unexpected_errors"] == 0, result["errors"]
    if name != "join":
        assert result["deliveries"] > 0
    if name == "resume":
        assert result["resume"].get("resumed", 0) > 0, result["resume"]


async def test_a_scenario_runs_against_a_server_the_bench_spawns() -> None:
    scenario = preset("class", clients=12, steps=(Step(4, 2),), churn=0.0, settle=0.3, drain=2.0)
    options = RunOptions(TargetOptions(), processes=1, pin=False, progress=False)
    result = await execute("liveclass", scenario, options)
    assert validate(result) == [], validate(result)
    assert result["join"]["ok"] == 12
    assert result["deliveries"] == 8 * 12
    assert result["server"]["pid_known"] is True
    # RSS per connection is read after the warm-up connections (a room of their own)
    assert result["target"]["warm_connections"] == 10
    assert result["server"]["rss_per_connection_bytes"] is not None
