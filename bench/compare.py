"""``compare``: the same workload against liveclass and every baseline, one after the other in
one run, with the same load generator; one JSON document, plots and the ratio table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.execute import RunOptions, execute
from bench.plots import plot_all
from bench.report import ratio_table, summary
from bench.results import COMPARE_SCHEMA, iso_now, save, stamp
from bench.scenario import Scenario

__all__ = ["CompareOutput", "compare"]


@dataclass
class CompareOutput:
    document: dict[str, Any]
    json_path: Path
    table_path: Path
    plots: list[Path]
    table: str


async def compare(
    targets: list[str],
    scenario: Scenario,
    options: RunOptions,
    out: Path,
    *,
    latency_at: float = 10_000,
    command: str = "",
    echo: bool = True,
) -> CompareOutput:
    """Run ``scenario`` against each target; write ``compare-<stamp>.json``, ``.txt`` and the
    plots under ``out/compare-<stamp>/``."""
    results: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    for name in targets:
        try:
            result = await execute(name, scenario, options)
        except Exception as exc:  # one broken target must not lose the others' figures
            failures[name] = f"{type(exc).__name__}: {exc}"
            if echo:
                print(f"!! {name} failed: {failures[name]}", flush=True)
            continue
        results.append(result)
        if echo:
            print(summary(result), flush=True)
    name = f"compare-{stamp()}"
    reference = "liveclass" if any(r["label"] == "liveclass" for r in results) else None
    table = ratio_table(results, reference or results[0]["label"], latency_at) if results else ""
    document = {
        "schema": COMPARE_SCHEMA,
        "created_at": iso_now(),
        "command": command,
        "scenario": scenario.to_dict(),
        "targets": targets,
        "failures": failures,
        "table": table,
        "results": results,
    }
    json_path = save(document, out / f"{name}.json")
    table_path = out / f"{name}.txt"
    table_path.write_text(
        f"$ {command}\n\n{table}\n" + (f"\nfailed: {json.dumps(failures)}\n" if failures else "")
    )
    plots = plot_all(results, out / name) if results else []
    if echo:
        print(table, flush=True)
    return CompareOutput(document, json_path, table_path, plots, table)
