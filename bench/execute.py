"""One scenario against one target, start to finish: start the target (or reach it), set up
its rooms, run the load, analyse, clean up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from typing import Any

from bench.affinity import split_cores
from bench.analysis import analyse
from bench.frames import Dialect
from bench.plan import build_plan
from bench.probe import Probe
from bench.progress import Progress
from bench.results import machine_info
from bench.runner import RawRun, run_load
from bench.scenario import Scenario
from bench.targets import Target, TargetOptions, start_target

__all__ = ["RunOptions", "execute"]


@dataclass
class RunOptions:
    target: TargetOptions
    processes: int | None = None
    pin: bool = True
    progress: bool | None = None  # None: only on a terminal


async def execute(name: str, scenario: Scenario, options: RunOptions) -> dict[str, Any]:
    """Run ``scenario`` against target ``name`` and return the result document."""
    spawned = name != "url"
    original = os.sched_getaffinity(0)
    server_cores, client_cores = split_cores(options.pin and spawned, sorted(original))
    target_options = replace(options.target, server_cores=server_cores)
    processes = options.processes or max(1, len(client_cores or original))
    try:
        if client_cores:
            os.sched_setaffinity(0, client_cores)  # the orchestrator stays off the server's core
        async with start_target(name, target_options) as target:
            raw = await _run(target, scenario, options, processes, client_cores)
            description = {**target.describe(), "server_cores": server_cores}
    finally:
        os.sched_setaffinity(0, original)
    return analyse(raw, description, machine_info())


async def _run(
    target: Target,
    scenario: Scenario,
    options: RunOptions,
    processes: int,
    client_cores: list[int] | None,
) -> RawRun:
    run_id = secrets.token_hex(3)
    try:
        urls = await target.room_urls(scenario.rooms, scenario.clients, run_id)
        specs = build_plan(scenario, urls, resumable=target.dialect is Dialect.LIVECLASS)
        probe = Probe(target.pid, target.redis_url)
        try:
            return await run_load(
                scenario,
                specs,
                target.dialect.value,
                probe,
                processes=processes,
                client_cores=client_cores,
                progress=Progress(target.name, options.progress),
            )
        finally:
            await probe.close()
    finally:
        await target.cleanup()
