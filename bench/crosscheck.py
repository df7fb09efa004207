"""``crosscheck``: the same `class` load from two independent load generators, in one run.

For every target, each round runs the Python load generator (the bench's own, through
:func:`bench.execute.execute`) and the Node one (``bench/node/loadgen.js``: the ``ws`` client
for liveclass and the plain dialect, ``socket.io-client`` for socket.io; no code shared with
the Python side but the room tokens this module mints), alternating which goes first. Each
measurement gets a freshly spawned server with the same settings and the same pinning (the
server on the first core, the generator and this orchestrator on the others). The two results
are printed side by side with their ratio (Node ÷ Python) and written, whole, to
``crosscheck-<stamp>.json`` (and the tables to ``.txt``) under the results folder.

The Node generator reports per step the deliveries/s it received, p50/p99 latency, loss
(messages sent x joined clients - deliveries, per message) and its own CPU
(``process.cpuUsage``) and event-loop delay, so a saturated generator shows; and the join
storm's time (first attempt to last welcome). No warm-up connections are opened for either
generator (the servers start alike), and the scenario is one room without churn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.affinity import split_cores
from bench.crosscheck_report import comparison_rows, tables
from bench.execute import RunOptions, execute
from bench.report import summary
from bench.results import iso_now, machine_info, save, stamp
from bench.scenario import Scenario
from bench.targets import NODE_DIR, Target, node_setup, start_target

__all__ = ["CROSSCHECK_SCHEMA", "LOADGEN", "CrosscheckOutput", "crosscheck", "node_measure"]

CROSSCHECK_SCHEMA = "liveclass-bench-crosscheck/1"
LOADGEN = NODE_DIR / "loadgen.js"
JOIN_TIMEOUT = 60.0
#: Seconds the Node generator may take beyond its join timeout, settle, load and drain.
SLACK = 30.0


@dataclass
class CrosscheckOutput:
    document: dict[str, Any]
    json_path: Path
    table_path: Path
    table: str


def check_scenario(scenario: Scenario) -> None:
    """The Node generator plays one room's chat load only: refuse what it would not do."""
    if scenario.rooms != 1 or scenario.churn or scenario.slow or scenario.resume_at is not None:
        raise ValueError("crosscheck runs one room without churn, slow consumers or resumes")
    if scenario.codec != "json":
        raise ValueError("crosscheck speaks liveclass's JSON subprotocol only")
    if not scenario.steps:
        raise ValueError("crosscheck needs at least one load step")


async def node_measure(name: str, scenario: Scenario, options: RunOptions) -> dict[str, Any]:
    """Spawn target ``name`` as :func:`bench.execute.execute` does (same settings, same
    pinning), set its room up, and run ``bench/node/loadgen.js`` against it; the generator's
    result document, with the target's description."""
    check_scenario(scenario)
    await asyncio.to_thread(node_setup, quiet=True)
    original = os.sched_getaffinity(0)
    server_cores, client_cores = split_cores(options.pin, sorted(original))
    target_options = replace(options.target, server_cores=server_cores)
    try:
        if client_cores:
            os.sched_setaffinity(0, client_cores)  # the generator inherits the client cores
        async with start_target(name, target_options) as target:
            try:
                (urls,) = await target.room_urls(1, scenario.clients, secrets.token_hex(3))
                result = await _run_loadgen(target, urls, scenario)
            finally:
                await target.cleanup()
            result["target"] = {**target.describe(), "server_cores": server_cores}
            result["client_cores"] = client_cores
    finally:
        os.sched_setaffinity(0, original)
    return result


async def _run_loadgen(target: Target, urls: list[str], scenario: Scenario) -> dict[str, Any]:
    config = {
        "dialect": target.dialect.value,
        "urls": urls,
        "steps": [{"rate": s.rate, "seconds": s.seconds} for s in scenario.steps],
        "textBytes": scenario.text_bytes,
        "senderRate": scenario.sender_rate,
        "settle": scenario.settle,
        "drain": scenario.drain,
        "joinTimeout": JOIN_TIMEOUT,
    }
    node = shutil.which("node") or "/usr/bin/node"
    within = JOIN_TIMEOUT + scenario.settle + scenario.load_seconds + scenario.drain + SLACK
    with tempfile.TemporaryDirectory(prefix="liveclass-crosscheck-") as folder:
        config_path = Path(folder) / "config.json"
        result_path = Path(folder) / "result.json"
        config_path.write_text(json.dumps(config))  # room tokens: a private temporary folder
        process = await asyncio.create_subprocess_exec(
            node,
            str(LOADGEN),
            str(config_path),
            str(result_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=NODE_DIR,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), within)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise RuntimeError(
                f"the Node load generator did not finish within {within:.0f} s"
            ) from None
        log = output.decode(errors="replace").strip()
        if process.returncode != 0 or not result_path.is_file():
            raise RuntimeError(f"the Node load generator failed ({process.returncode}): {log}")
        result: dict[str, Any] = json.loads(result_path.read_text())
    result["log"] = log.splitlines()[-20:]
    return result


async def crosscheck(
    targets: list[str],
    scenario: Scenario,
    options: RunOptions,
    out: Path,
    *,
    repeat: int = 1,
    command: str = "",
    echo: bool = True,
) -> CrosscheckOutput:
    """For each target, ``repeat`` rounds of (Python, Node) measurements, alternating which
    generator goes first; writes ``crosscheck-<stamp>.json`` and ``.txt`` under ``out``.

    A measurement that fails is recorded under ``failures`` (the others still run)."""
    check_scenario(scenario)
    options = replace(options, warm=0)  # the same server start for both generators
    runs: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for name in targets:
        for round_ in range(repeat):
            order = ("python", "node") if round_ % 2 == 0 else ("node", "python")
            pair: dict[str, Any] = {"target": name, "round": round_ + 1, "order": list(order)}
            for generator in order:
                if echo:
                    print(f"== {name} round {round_ + 1}: {generator} generator", flush=True)
                try:
                    if generator == "python":
                        pair["python"] = await execute(name, scenario, options)
                    else:
                        pair["node"] = await node_measure(name, scenario, options)
                except Exception as exc:  # one broken measurement must not lose the others
                    message = f"{type(exc).__name__}: {exc}"
                    failures.append({"target": name, "generator": generator, "error": message})
                    if echo:
                        print(f"!! {name} ({generator}) failed: {message}", flush=True)
                    continue
                if echo and generator == "python":
                    print(summary(pair["python"]), flush=True)
            runs.append(pair)
    rows = [row for pair in runs for row in comparison_rows(pair)]
    text = tables(rows)
    document = {
        "schema": CROSSCHECK_SCHEMA,
        "created_at": iso_now(),
        "command": command,
        "scenario": scenario.to_dict(),
        "targets": targets,
        "repeat": repeat,
        "machine": machine_info(),
        "failures": failures,
        "rows": rows,
        "table": text,
        "runs": runs,
    }
    name = f"crosscheck-{stamp()}"
    json_path = save(document, out / f"{name}.json")
    table_path = out / f"{name}.txt"
    table_path.write_text(
        f"$ {command}\n\n{text}\n" + (f"\nfailed: {json.dumps(failures)}\n" if failures else "")
    )
    if echo:
        print(text, flush=True)
    return CrosscheckOutput(document, json_path, table_path, text)
