"""Running one scenario: start the load-generator processes, drive their phases, sample the
server, and hand everything to :mod:`bench.analysis`.

Phases: workers start (``ready``) → the server's idle RSS is read → every client connects at
once (``joined``) → ``settle`` seconds idle, the server's RSS is read again → the load runs
with the server sampled every half second (``loaded``) → workers close their clients and
send their results. Every wait is bounded; a worker that does not answer in time is
terminated and the run fails with a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench.plan import ClientSpec, deal
from bench.probe import Probe, Sample
from bench.progress import Progress
from bench.scenario import Scenario
from bench.worker import WorkerJob, worker_main

__all__ = ["RawRun", "run_load"]

START_TIMEOUT = 60.0
JOIN_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


@dataclass
class RawRun:
    """What one run measured, before analysis."""

    scenario: Scenario
    processes: int
    client_cores: list[int] | None
    worker_results: list[dict[str, Any]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    rss_before: int | None = None
    rss_connected: int | None = None
    #: The server's CPU seconds (every thread) before the join storm and after its settle.
    cpu_before_join: float | None = None
    cpu_after_join: float | None = None
    connect_at: float = 0.0
    t0: float = 0.0
    connected: int = 0
    started_wall: float = field(default_factory=time.time)
    duration: float = 0.0


class _Pool:
    """The worker processes and their pipes, read from the asyncio loop."""

    def __init__(self, jobs: list[WorkerJob]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.progress: dict[int, dict[str, int]] = {}
        self.finished: set[int] = set()
        for job in jobs:
            parent, child = ctx.Pipe()
            process = ctx.Process(target=worker_main, args=(child, job), daemon=True)
            process.start()
            child.close()
            self.conns.append(parent)
            self.processes.append(process)
        loop = asyncio.get_running_loop()
        for conn in self.conns:
            loop.add_reader(conn.fileno(), self._readable, conn)

    def _readable(self, conn: Connection) -> None:
        try:
            while conn.poll():
                message = conn.recv()
                if message[0] == "progress":
                    self.progress[message[1]] = message[2]
                else:
                    if message[0] == "result":
                        self.finished.add(message[1])
                    self.inbox.put_nowait(message)
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(conn.fileno())
            worker = self.conns.index(conn)
            if worker not in self.finished:  # after its result a worker exits: that is fine
                self.inbox.put_nowait(("died", worker))

    def broadcast(self, *message: Any) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(message)

    async def gather(self, kind: str, within: float) -> list[tuple[Any, ...]]:
        """Wait for one ``kind`` message from every worker."""
        got: dict[int, tuple[Any, ...]] = {}
        async with asyncio.timeout(within):
            while len(got) < len(self.conns):
                message = await self.inbox.get()
                if message[0] == "died":
                    raise RuntimeError(f"load generator {message[1]} died")
                if message[0] == kind:
                    got[message[1]] = message
        return [got[i] for i in sorted(got)]

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for report in self.progress.values():
            for key, value in report.items():
                out[key] = out.get(key, 0) + value
        return out

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for conn in self.conns:
            with contextlib.suppress(Exception):
                loop.remove_reader(conn.fileno())
        deadline = time.monotonic() + 10
        for process in self.processes:
            await asyncio.to_thread(process.join, max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(5)
        for conn in self.conns:
            conn.close()


async def run_load(
    scenario: Scenario,
    specs: list[ClientSpec],
    dialect: str,
    probe: Probe,
    *,
    processes: int,
    client_cores: list[int] | None,
    progress: Progress,
    on_phase: Callable[[str], None] | None = None,
) -> RawRun:
    """Run ``scenario`` with ``specs`` spread over ``processes`` load generators;
    ``on_phase("join")`` and ``on_phase("joined")`` around the join storm, ``on_phase("load")``
    and ``on_phase("loaded")`` around the load (its steps and drain)."""
    parts = deal(specs, processes)
    jobs = [
        WorkerJob(i, len(parts), part, scenario, dialect, client_cores, seed=17)
        for i, part in enumerate(parts)
    ]
    raw = RawRun(scenario, len(jobs), client_cores)
    started = time.monotonic()
    pool = _Pool(jobs)
    try:
        await pool.gather("ready", START_TIMEOUT)
        _, raw.cpu_before_join, raw.rss_before, _ = await probe.sample()

        raw.connect_at = time.monotonic() + 0.2
        if on_phase is not None:
            on_phase("join")
        pool.broadcast("connect", raw.connect_at)
        with progress.phase("join", len(specs)) as bar:
            joined = asyncio.ensure_future(pool.gather("joined", JOIN_TIMEOUT))
            while not joined.done():
                await asyncio.wait({joined}, timeout=0.25)
                bar.update(pool.totals())
            joined.result()
        if on_phase is not None:
            on_phase("joined")
        raw.connected = pool.totals().get("connected", 0)

        await asyncio.sleep(scenario.settle)
        _, raw.cpu_after_join, raw.rss_connected, _ = await probe.sample()

        raw.t0 = time.monotonic() + 0.3
        load_end = raw.t0 + scenario.load_seconds
        if on_phase is not None:
            on_phase("load")
        pool.broadcast("load", {"t0": raw.t0})
        sampler = asyncio.ensure_future(probe.every(raw.t0, 0.5, load_end + scenario.drain + 1))
        with progress.phase("load", scenario.load_seconds, t0=raw.t0) as bar:
            loaded = asyncio.ensure_future(
                pool.gather("loaded", scenario.load_seconds + scenario.drain + 60)
            )
            while not loaded.done():
                await asyncio.wait({loaded}, timeout=0.5)
                bar.update(pool.totals())
            loaded.result()
        if on_phase is not None:
            on_phase("loaded")
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        await probe.sample()

        pool.broadcast("stop")
        results = await pool.gather("result", STOP_TIMEOUT)
        raw.worker_results = [r[2] for r in results]
    finally:
        await pool.close()
    raw.samples = list(probe.samples)
    raw.duration = time.monotonic() - started
    return raw
