"""A load-generator process: many :class:`~bench.client.Client` on one asyncio loop.

The orchestrator (``bench/runner.py``) talks to each worker over a pipe:

- worker → ``("ready", id)`` once started;
- ``("connect", at)``: at monotonic time ``at`` every client connects at once (the join storm);
  worker → ``("joined", id)``;
- ``("load", {"t0": ...})``: senders send on the scenario's schedule counted from ``t0``
  (monotonic seconds, the same clock in every local process), with churn and the resume storm
  if the scenario has them, until the last step ends and the messages in flight arrive;
  worker → ``("loaded", id)``;
- ``("stop",)``: close every client; worker → ``("result", id, data)`` and exits.

While it runs it sends ``("progress", id, {...})`` twice a second and samples its own CPU
time, so the report can tell when the load generator (not the server) was the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from bench.client import Client
from bench.frames import Dialect, Wire, chat_text
from bench.plan import ClientSpec, send_times
from bench.recorder import Recorder, now_us
from bench.scenario import Scenario

__all__ = ["WorkerJob", "worker_main"]

TICK = 0.5
QUIET = 0.4


@dataclass(frozen=True)
class WorkerJob:
    worker: int
    workers: int
    specs: list[ClientSpec]
    scenario: Scenario
    dialect: str
    cores: list[int] | None = None
    seed: int = 0


def worker_main(conn: Connection, job: WorkerJob) -> None:
    """Entry point of the worker process."""
    if job.cores:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, job.cores)
    asyncio.run(Worker(conn, job).run())


class Worker:
    def __init__(self, conn: Connection, job: WorkerJob) -> None:
        self.conn = conn
        self.job = job
        self.scenario = job.scenario
        self.rec = Recorder()
        self.wire = Wire(Dialect(job.dialect), job.scenario.codec)
        full = job.scenario.resume_at is not None
        self.clients = [
            Client(
                spec,
                self.wire,
                self.rec,
                slow_interval=job.scenario.slow_interval,
                full_decode=full,
            )
            for spec in job.specs
        ]
        self.random = random.Random(job.seed + job.worker)
        self.inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._background: set[asyncio.Task[None]] = set()

    def _send(self, *message: Any) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(message)

    def _on_command(self) -> None:
        try:
            while self.conn.poll():
                self.inbox.put_nowait(self.conn.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            self.inbox.put_nowait(("stop",))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), self._on_command)
        self._send("ready", self.job.worker)
        try:
            while True:
                command = await self.inbox.get()
                if command[0] == "connect":
                    await self.connect(float(command[1]))
                    self._send("joined", self.job.worker)
                elif command[0] == "load":
                    await self.load(float(command[1]["t0"]))
                    self._send("loaded", self.job.worker)
                else:
                    break
        finally:
            with contextlib.suppress(Exception):
                loop.remove_reader(self.conn.fileno())
            await self.close_all()
            self.rec.cpu_sample()
            self._send("result", self.job.worker, self.rec.to_dict())

    # -- phases -----------------------------------------------------------------------------

    async def connect(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        self.rec.cpu_sample()
        ticker = asyncio.get_running_loop().create_task(self._tick(at, at + 3600))
        try:
            await asyncio.gather(*(c.join("join") for c in self.clients))
        finally:
            ticker.cancel()
        self.rec.cpu_sample()
        self._progress()

    async def load(self, t0: float) -> None:
        scenario = self.scenario
        self.rec.t0_us = int(t0 * 1_000_000)
        end = t0 + scenario.load_seconds
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        tasks = [
            loop.create_task(self._tick(t0, end + scenario.drain)),
            loop.create_task(self._senders(t0)),
        ]
        if scenario.churn > 0:
            tasks.append(loop.create_task(self._churn(end)))
        if scenario.resume_at is not None:
            tasks.append(loop.create_task(self._resume_storm(t0 + scenario.resume_at)))
        try:
            await asyncio.sleep(max(0.0, end - time.monotonic()))
            await self._drain(end + scenario.drain)
        finally:
            pending = [*tasks, *self._background]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self.rec.cpu_sample()
        self._progress()

    async def _drain(self, deadline: float) -> None:
        """Wait (bounded) until no chat message arrived for ``QUIET`` seconds."""
        while time.monotonic() < deadline:
            quiet = (now_us() - self.rec.last_delivery_us) / 1_000_000
            if quiet >= QUIET:
                return
            await asyncio.sleep(min(QUIET - quiet, deadline - time.monotonic()) + 0.01)

    async def close_all(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)

    # -- activities -------------------------------------------------------------------------

    async def _tick(self, start: float, until: float) -> None:
        """CPU samples and progress reports every ``TICK`` seconds, aligned to ``start``."""
        k = 0
        while True:
            k += 1
            at = start + k * TICK
            if at > until:
                return
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            self.rec.cpu_sample()
            self._progress()

    def _progress(self) -> None:
        self._send(
            "progress",
            self.job.worker,
            {
                "connected": sum(1 for c in self.clients if c.is_open),
                "deliveries": self.rec.deliveries,
                "errors": self.rec.unexpected,
                "sent": sum(self.rec.sent.values()),
            },
        )

    async def _senders(self, t0: float) -> None:
        schedule = sorted(
            (t, step, i)
            for i, client in enumerate(self.clients)
            if client.spec.sender_slot is not None
            for t, step in send_times(self.scenario, client.spec.room, client.spec.sender_slot)
        )
        size = self.scenario.text_bytes
        wire, rec = self.wire, self.rec
        for t, step, i in schedule:
            delay = t0 + t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            client = self.clients[i]
            if await client.send(wire.chat(chat_text(now_us(), size))):
                rec.sent[step] += 1
            else:
                rec.skipped += 1

    async def _churn(self, end: float) -> None:
        """Leave and rejoin one client at a time, ``churn`` per second over all workers."""
        interval = self.job.workers / self.scenario.churn
        next_at = time.monotonic() + interval * self.random.random()
        while next_at < end:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            eligible = [
                c
                for c in self.clients
                if c.is_open and not c.spec.host and c.spec.sender_slot is None and not c.spec.slow
            ]
            if eligible:
                self._spawn(self._rejoin(self.random.choice(eligible)))

    async def _rejoin(self, client: Client) -> None:
        await client.leave()
        await client.join("rejoin")

    async def _resume_storm(self, at: float) -> None:
        """At ``at`` every client loses its connection and resumes (all at once)."""
        await asyncio.sleep(max(0.0, at - time.monotonic()))

        async def one(client: Client) -> None:
            if client.ws is None:
                return
            await client.drop()
            await client.join("resume")

        await asyncio.gather(*(one(c) for c in self.clients), return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
