"""One scenario against one target, start to finish: start the target (or reach it), set up
its rooms, open the warm-up connections, run the load, analyse, clean up.

The warm-up connections (``RunOptions.warm``, in a room of their own, idle until the end) pay
the server's one-time costs (code paths run the first time, caches, allocator arenas) before
its RSS is read, so the result's RSS per connection is the marginal cost of one more
connection (``bench/idle_memory.py`` measures the same way), for every target alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from websockets.asyncio.client import ClientConnection

from bench.affinity import split_cores
from bench.analysis import analyse
from bench.frames import Dialect
from bench.idle_memory import keep_idle, open_idle
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
    warm: int = 10  # warm-up connections opened before the run (see the module's docstring)


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
            description = {
                **target.describe(),
                "server_cores": server_cores,
                "warm_connections": options.warm,
            }
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
    idle: list[asyncio.Task[None]] = []
    try:
        if options.warm:
            (warm_urls,) = await target.room_urls(1, options.warm, f"{run_id}w")
            for url in warm_urls:
                ws = await open_idle(target.dialect, url)
                idle.append(asyncio.ensure_future(_hold(ws, target.dialect)))
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
                on_phase=_phases(target, options.target),
            )
        finally:
            await probe.close()
    finally:
        for task in idle:
            task.cancel()
        await asyncio.gather(*idle, return_exceptions=True)
        await target.cleanup()


def _phases(target: Target, options: TargetOptions) -> Callable[[str], None] | None:
    """Tells a server under ``bench.servers.profiled`` to profile the join storm only, or one
    under ``bench.servers.stalls`` to record the load only (SIGUSR1 at the start, SIGUSR2 at
    the end)."""
    if options.profile:
        start, end = "join", "joined"
    elif options.stall_monitor:
        start, end = "load", "loaded"
    else:
        return None

    def signal_server(phase: str) -> None:
        if target.pid is not None and phase in (start, end):
            os.kill(target.pid, signal.SIGUSR1 if phase == start else signal.SIGUSR2)

    return signal_server


async def _hold(ws: ClientConnection, dialect: Dialect) -> None:
    """Keep a warm-up connection open (reading) until cancelled, then close it."""
    try:
        await keep_idle(ws, dialect)
        await asyncio.Future()  # closed by the server: wait for the end anyway
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 5)
