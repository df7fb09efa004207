"""A media worker starved of its core, given more subscribers than it can carry.

``liveclass-bench media-overload`` deploys a hub and two ``liveclass media`` workers
(:mod:`bench.media.deploy`) and one room, with a busy loop spinning on the server core
(:mod:`bench.media.neighbour`). The host publishes (tagged frames, :mod:`bench.media.tags`);
the worker the room landed on, its *origin*, is pinned to the server core beside the loop
and reniced to ``origin_nice`` (0: it gets half the core; 10: about a tenth, so that the
load generator, on the other core of a 2-core machine, can bring more subscribers than it
carries); the other worker, the *relay*, is pinned to the other core (another machine's
worker, in effect) at nice 0. Subscribers join one by one, ``join_gap`` seconds apart, so
the origin measures each newcomer (:mod:`media.capacity`) before deciding on the next.

Then a measured window, as in :mod:`bench.media.run`: every subscriber's frames of the
window are counted end to end from the publisher's tags. Figures per worker: the
subscribers it serves (the media registry's assignments), their frames lost, the capacity
it last published, its CPU time and run-queue wait over the window.

A run is good when the origin stopped admitting before it lost anything: every subscriber,
on either worker, received every frame of the window (see :func:`verdict`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.affinity import split_cores
from bench.liveclass_rooms import LiveclassRooms
from bench.media.agents import Agent
from bench.media.deploy import DeployOptions, deploy
from bench.media.neighbour import busy_neighbour
from bench.media.run import _cpu_seconds, _frame_ranges, _frames, _wait_seconds
from bench.results import iso_now, machine_info, package_version

__all__ = ["OverloadOptions", "run_overload", "verdict"]


@dataclass
class OverloadOptions:
    subscribers: int = 40
    #: The origin's niceness beside the busy loop: 0 is half the core, 10 about a tenth.
    origin_nice: int = 10
    join_gap: float = 0.5
    duration: float = 10.0
    warmup: float = 3.0
    width: int = 640
    height: int = 480
    fps: int = 30
    video_kbps: int = 1200
    pin: bool = True
    ready_timeout: float = 60.0
    settle: float = 1.5
    deploy: DeployOptions = field(default_factory=DeployOptions)
    command: str | None = None


async def run_overload(options: OverloadOptions) -> dict[str, Any]:
    """One run; see the module docstring. Every process it starts is stopped on return."""
    if options.subscribers < 1:
        raise ValueError("subscribers must be at least 1")
    server_cores, client_cores = split_cores(options.pin)
    deploy_options = options.deploy
    deploy_options.workers = 2
    deploy_options.worker_cores = server_cores
    deploy_options.hub_cores = client_cores
    deploy_options.max_video_kbps = max(deploy_options.max_video_kbps, options.video_kbps)
    async with contextlib.AsyncExitStack() as stack:
        deployment = await stack.enter_async_context(deploy(deploy_options))
        await stack.enter_async_context(busy_neighbour(server_cores))
        setup = LiveclassRooms(deployment.http_url, deployment.minter, os.urandom(3).hex())
        stack.push_async_callback(setup.cleanup)
        urls = (await setup.prepare(1, options.subscribers + 1))[0]
        session_id = setup.sessions[0][0]
        registry = _Registry(deployment.redis_url)
        stack.push_async_callback(registry.close)
        timeout = 30.0
        video = {
            "width": options.width,
            "height": options.height,
            "fps": options.fps,
            "kbps": options.video_kbps,
        }
        publisher = await Agent.start(
            "publisher",
            {
                "role": "publisher",
                "targets": [{"kind": "liveclass", "url": urls[0]}],
                "video": video,
                "timeout": timeout,
                "cores": client_cores,
            },
        )
        stack.push_async_callback(publisher.close)
        await publisher.expect("ready", timeout * 2)
        workers = dict(zip(deployment.info["worker_ids"], deployment.worker_pids, strict=True))
        origin = await registry.origin(session_id)
        if origin not in workers:
            raise RuntimeError(f"the room landed on {origin!r}, not on {sorted(workers)}")
        os.setpriority(os.PRIO_PROCESS, workers[origin], options.origin_nice)
        if server_cores and client_cores:  # the relay: another machine's worker, in effect
            for worker, pid in workers.items():
                os.sched_setaffinity(pid, client_cores if worker != origin else server_cores)
        started = time.monotonic()
        subscribers = await Agent.start(
            "subscribers",
            {
                "role": "subscribers",
                "targets": [{"kind": "liveclass", "url": url} for url in urls[1:]],
                "timeout": timeout,
                "ready_timeout": options.ready_timeout,
                "parallel": 1,
                "join_gap": options.join_gap,
                "cores": client_cores,
            },
        )
        stack.push_async_callback(subscribers.close)
        within = options.ready_timeout + options.subscribers * (options.join_gap + timeout)
        ready = await subscribers.expect("ready", within)
        joined_s = time.monotonic() - started
        await asyncio.sleep(options.warmup)

        pids = list(workers.values())
        loadgen = [publisher.pid, subscribers.pid]
        cpu0 = [_cpu_seconds(p) for p in pids + loadgen]
        wait0 = [_wait_seconds(p) for p in pids + loadgen]
        t0 = time.monotonic()
        marks0 = [await publisher.mark(), await subscribers.mark()]
        await asyncio.sleep(options.duration)
        marks1 = [await publisher.mark(), await subscribers.mark()]
        window = time.monotonic() - t0
        cpu1 = [_cpu_seconds(p) for p in pids + loadgen]
        wait1 = [_wait_seconds(p) for p in pids + loadgen]
        await asyncio.sleep(options.settle)
        ranges = _frame_ranges(marks0[0], marks1[0])
        frames = (await subscribers.command({"cmd": "frames", "ranges": ranges}, "frames"))[
            "subscribers"
        ]
        capacities = await registry.capacities()
        final = await subscribers.stop()
        published = await publisher.stop()
        participants = [s.get("participant") for s in final["subscribers"]]
        assigned = await registry.assignments(session_id, [p for p in participants if p])

    per_worker = []
    for worker, c0, c1, w0, w1 in zip(workers, cpu0, cpu1, wait0, wait1, strict=False):
        mine = [
            f for f, p in zip(frames, participants, strict=True) if assigned.get(p or "") == worker
        ]
        per_worker.append(
            {
                "worker": worker,
                "role": "origin" if worker == origin else "relay",
                "cores": server_cores if worker == origin else client_cores,
                "nice": options.origin_nice if worker == origin else 0,
                "subscribers": len(mine),
                "capacity_published": capacities.get(worker),
                "cpu_utilisation": _rate(c0, c1, window),
                "waiting_for_cpu": _rate(w0, w1, window),
                "frames": {"video": _frames(mine, "video"), "audio": _frames(mine, "audio")},
            }
        )
    # a load generator starved of its core delays and drops frames, whoever forwards them
    loadgen_cpu = {
        name: {"cpu": _rate(c0, c1, window), "waiting": _rate(w0, w1, window)}
        for name, c0, c1, w0, w1 in zip(
            ("publisher", "subscribers"), cpu0[2:], cpu1[2:], wait0[2:], wait1[2:], strict=True
        )
    }
    unassigned = sum(1 for p in participants if not assigned.get(p or ""))
    return {
        "kind": "media-overload",
        "created": iso_now(),
        "command": options.command,
        "machine": {**machine_info(), "aiortc": package_version("aiortc")},
        "options": {k: v for k, v in asdict(options).items() if k != "deploy"},
        "server_cores": server_cores,
        "client_cores": client_cores,
        "window_s": round(window, 3),
        "joined_s": round(joined_s, 2),
        "join": {k: ready[k] for k in ("joined", "receiving", "failures")},
        "unassigned": unassigned,
        "workers": per_worker,
        "loadgen": loadgen_cpu,
        # the publisher's connection lost and published again (restart → media flowing)
        "republished_ms": published["publishers"][0].get("republished_ms", []),
        "frames": {"video": _frames(frames, "video"), "audio": _frames(frames, "audio")},
    }


def _rate(start: float | None, end: float | None, window: float) -> float | None:
    return None if start is None or end is None else round((end - start) / window, 3)


def verdict(result: dict[str, Any], *, lost_pct: float = 0.0) -> list[str]:
    """What went wrong in a run (empty: nothing): a subscriber that was not served, more
    than ``lost_pct`` % of the window's frames lost on either worker (or no frame sent in
    the window at all: the publisher's connection dropped), or no subscriber sent to the
    relay (the origin kept admitting)."""
    problems = []
    join = result["join"]
    total = result["options"]["subscribers"]
    if join["receiving"] != total or join["failures"] or result["unassigned"]:
        problems.append(f"not every subscriber was served: {join}, {result['unassigned']} unplaced")
    for worker in result["workers"]:
        for kind in ("video", "audio"):
            frames = worker["frames"][kind]
            if not worker["subscribers"]:
                continue
            if not frames["expected"]:
                problems.append(f"{worker['role']}: no {kind} frame was sent in the window")
            elif frames["lost_pct"] > lost_pct:
                problems.append(
                    f"{worker['role']} lost {frames['expected'] - frames['received']} of "
                    f"{frames['expected']} {kind} frames ({frames['lost_pct']} %)"
                )
    relay = [w for w in result["workers"] if w["role"] == "relay"]
    if not relay or not relay[0]["subscribers"]:
        problems.append("the origin admitted every subscriber: nobody went to the relay")
    return problems


def summary(result: dict[str, Any]) -> str:
    """The figures as a few lines of text."""
    lines = [f"{result['options']['subscribers']} subscribers, window {result['window_s']} s"]
    for w in result["workers"]:
        video, audio = w["frames"]["video"], w["frames"]["audio"]
        lines.append(
            f"{w['role']:6} {w['worker']} (nice {w['nice']}): {w['subscribers']} subscribers, "
            f"capacity {w['capacity_published']}, CPU {w['cpu_utilisation']} of a core, "
            f"waited {w['waiting_for_cpu']}; frames lost video {video['lost_pct']} %, audio "
            f"{audio['lost_pct']} %, video delay p50 {video['delay_p50_ms']} ms"
        )
    lines.append(
        "load generator: "
        + ", ".join(
            f"{name} CPU {v['cpu']} of a core, waited {v['waiting']}"
            for name, v in result["loadgen"].items()
        )
    )
    if result.get("republished_ms"):
        lines.append(f"publisher published again after (ms): {result['republished_ms']}")
    problems = verdict(result)
    lines.append("verdict: " + ("; ".join(problems) if problems else "ok"))
    return "\n".join(lines)


class _Registry:
    """The media registry of the deployment's Redis, read-only."""

    def __init__(self, redis_url: str | None) -> None:
        from redis.asyncio import Redis

        from rooms.keys import MediaKeys
        from rooms.media_registry import MediaRegistry

        if not redis_url:
            raise ValueError("media-overload spawns its deployment (no --url)")
        self._redis = Redis.from_url(redis_url)
        self._keys = MediaKeys()
        self._registry = MediaRegistry(self._redis)

    async def origin(self, session_id: str) -> str | None:
        return await self._registry.worker_of(session_id)

    async def assignments(self, session_id: str, participants: list[str]) -> dict[str, str]:
        return await self._registry.assignments(session_id, participants)

    async def capacities(self) -> dict[str, int]:
        raw = await self._redis.hgetall(self._keys.caps)
        return {_text(k): int(v) for k, v in raw.items()}

    async def close(self) -> None:
        await self._redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
