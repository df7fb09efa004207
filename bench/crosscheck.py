"""``crosscheck``: the same `class` load from independent load generators, in one run.

For every target, each round runs every chosen generator (default: the bench's own Python one,
through :func:`bench.execute.execute`, and the Node one; also the Go one,
``bench/go/loadgen.go``: gorilla/websocket, socket.io framed by hand; see
:mod:`bench.loadgens`), rotating which goes first from round to round. Each measurement gets a
freshly spawned server with the same settings and the same pinning (the server on the first
core, the generator and this orchestrator on the others); no generator shares code with
another but the room tokens this module mints. The figures are printed side by side with the
ratios Node ÷ Python, Go ÷ Node and Go ÷ Python (:mod:`bench.crosscheck_report`) and written,
whole, to ``crosscheck-<stamp>.json`` (and the tables to ``.txt``) under the results folder.

The external generators report per step the deliveries/s they received, p50/p99 latency, loss
(messages sent x joined clients - deliveries, per message), their own CPU and scheduling delay
(Node's event-loop delay; Go's oversleep of a 5 ms sleeper), so a saturated generator shows;
and the join storm's time (first attempt to last welcome). No warm-up connections are opened
for any generator (the servers start alike), and the scenario is one room without churn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.crosscheck_report import comparison_rows, tables
from bench.execute import RunOptions, execute
from bench.loadgens import GENERATORS, check_scenario, external_measure
from bench.report import summary
from bench.results import iso_now, machine_info, save, stamp
from bench.scenario import Scenario

__all__ = ["CROSSCHECK_SCHEMA", "CrosscheckOutput", "check_scenario", "crosscheck", "orders"]

CROSSCHECK_SCHEMA = "liveclass-bench-crosscheck/2"


@dataclass
class CrosscheckOutput:
    document: dict[str, Any]
    json_path: Path
    table_path: Path
    table: str


def orders(generators: list[str], rounds: int) -> list[list[str]]:
    """Each round's order: the list rotated by one a round (two generators alternate)."""
    n = len(generators)
    return [generators[r % n :] + generators[: r % n] for r in range(rounds)]


async def crosscheck(
    targets: list[str],
    scenario: Scenario,
    options: RunOptions,
    out: Path,
    *,
    repeat: int = 1,
    generators: tuple[str, ...] | list[str] = ("python", "node"),
    command: str = "",
    echo: bool = True,
) -> CrosscheckOutput:
    """For each target, ``repeat`` rounds of one measurement per generator (from
    :data:`bench.loadgens.GENERATORS`), rotating which goes first; writes
    ``crosscheck-<stamp>.json`` and ``.txt`` under ``out``.

    A measurement that fails is recorded under ``failures`` (the others still run)."""
    check_scenario(scenario)
    unknown = [g for g in generators if g not in GENERATORS]
    if unknown or not generators:
        raise ValueError(f"generators: one or more of {', '.join(GENERATORS)} (not {unknown})")
    generators = list(generators)
    options = replace(options, warm=0)  # the same server start for every generator
    runs: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for name in targets:
        for round_, order in enumerate(orders(generators, repeat)):
            pair: dict[str, Any] = {"target": name, "round": round_ + 1, "order": order}
            for generator in order:
                if echo:
                    print(f"== {name} round {round_ + 1}: {generator} generator", flush=True)
                try:
                    if generator == "python":
                        pair["python"] = await execute(name, scenario, options)
                    else:
                        pair[generator] = await external_measure(generator, name, scenario, options)
                except Exception as exc:  # one broken measurement must not lose the others
                    message = f"{type(exc).__name__}: {exc}"
                    failures.append({"target": name, "generator": generator, "error": message})
                    if echo:
                        print(f"!! {name} ({generator}) failed: {message}", flush=True)
                    continue
                if echo and generator == "python":
                    print(summary(pair["python"]), flush=True)
            runs.append(pair)
    rows = [row for pair in runs for row in comparison_rows(pair, generators)]
    text = tables(rows)
    document = {
        "schema": CROSSCHECK_SCHEMA,
        "created_at": iso_now(),
        "command": command,
        "scenario": scenario.to_dict(),
        "targets": targets,
        "generators": generators,
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
