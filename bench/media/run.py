"""One media bench run: 1 publisher per room, N subscribers, the SFU workers measured.

1. Deploy (:mod:`bench.media.deploy`): a hub and ``workers`` media workers, or ``--url``.
2. One room per worker (rooms are placed on the least-loaded worker, so each lands on its
   own): the host publishes (one publisher process for all rooms), the subscribers join,
   spread over ``processes`` subscriber processes, and wait for their first keyframe.
3. After ``warmup`` seconds, the measured window: every counter (each subscriber's RTP
   packets and sequence range per kind, the publisher's frames) and the CPU time of every
   worker (and the hub, and the load generators) are read at its start and its end.
4. Forwarded packets = the packets the SFU sent in the window: per subscriber stream the
   advance of the highest sequence number (received + lost). Forwarded packets/s per core =
   forwarded packets ÷ CPU seconds the workers used. Loss = (sent - received) ÷ sent per
   subscriber. First-frame time = the subscriber's connection up → its first VP8 keyframe.

Optionally the first worker is profiled during the window (:mod:`bench.media.profile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.affinity import split_cores
from bench.liveclass_rooms import LiveclassRooms
from bench.media.agents import Agent
from bench.media.deploy import DeployOptions, deploy
from bench.media.profile import Profiler
from bench.results import iso_now, machine_info, package_version
from bench.stats import percentile_of_sorted

__all__ = ["MediaOptions", "run_media"]

GOAL_PACKETS_PER_CORE = 38_000  # LiveKit's published per-core forwarding figure
CLASS_SIZE = 500


@dataclass
class MediaOptions:
    subscribers: int
    workers: int = 1
    processes: int = 1
    duration: float = 10.0
    warmup: float = 2.0
    width: int = 640
    height: int = 480
    fps: int = 30
    video_kbps: int = 1200
    pin: bool = True
    join_parallel: int = 8
    ready_timeout: float = 60.0
    profile: str | None = None  # "py-spy"
    profile_dir: Path | None = None
    deploy: DeployOptions = field(default_factory=DeployOptions)
    command: str | None = None


def _cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


def _wait_seconds(pid: int | None) -> float | None:
    """Seconds the process's threads were runnable but waiting for a CPU (schedstat)."""
    if pid is None:
        return None
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int((task / "schedstat").read_text().split()[1])
    except OSError:
        return None
    return total / 1e9


def _split(items: list[str], parts: int) -> list[list[str]]:
    return [items[i::parts] for i in range(parts) if items[i::parts]]


def _pct(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": percentile_of_sorted(ordered, 50),
        "p95": percentile_of_sorted(ordered, 95),
        "p99": percentile_of_sorted(ordered, 99),
        "max": ordered[-1] if ordered else None,
        "mean": round(sum(ordered) / len(ordered), 4) if ordered else None,
    }


def _delta(end: dict[str, Any], start: dict[str, Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for kind, counters in end.items():
        before = start.get(kind, {})
        out[kind] = {k: v - before.get(k, 0) for k, v in counters.items()}
    return out


async def run_media(options: MediaOptions) -> dict[str, Any]:
    if options.subscribers < 1 or options.workers < 1 or options.processes < 1:
        raise ValueError("subscribers, workers and processes must be at least 1")
    server_cores, client_cores = split_cores(options.pin)
    deploy_options = options.deploy
    if not deploy_options.url:
        deploy_options.workers = options.workers
        deploy_options.worker_cores = server_cores
        deploy_options.hub_cores = client_cores
        deploy_options.max_video_kbps = max(deploy_options.max_video_kbps, options.video_kbps)
    run_id = secrets.token_hex(3)
    rooms = options.workers
    per_room = [
        options.subscribers // rooms + (1 if r < options.subscribers % rooms else 0)
        for r in range(rooms)
    ]
    agents: list[Agent] = []
    started = time.monotonic()
    async with deploy(deploy_options) as deployment:
        setup = LiveclassRooms(deployment.http_url, deployment.minter, run_id, parallel=8)
        try:
            urls = await setup.prepare(rooms, max(per_room) + 1)
            publisher_urls = [room[0] for room in urls]
            subscriber_urls = [u for r, room in enumerate(urls) for u in room[1 : 1 + per_room[r]]]
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
                    "urls": publisher_urls,
                    "video": video,
                    "timeout": timeout,
                    "cores": client_cores,
                },
            )
            agents.append(publisher)
            published = await publisher.expect("ready", timeout * 2)
            shares = _split(subscriber_urls, options.processes)
            for i, share in enumerate(shares):
                agents.append(
                    await Agent.start(
                        f"subscribers #{i}",
                        {
                            "role": "subscribers",
                            "urls": share,
                            "timeout": timeout,
                            "ready_timeout": options.ready_timeout,
                            "parallel": options.join_parallel,
                            "cores": client_cores,
                        },
                    )
                )
            wait_ready = options.ready_timeout + timeout + len(subscriber_urls) * 0.5
            readies = await asyncio.gather(*(a.expect("ready", wait_ready) for a in agents[1:]))
            joined_s = time.monotonic() - started
            placement = await _placement(deployment.redis_url, [s for s, _ in setup.sessions])
            await asyncio.sleep(options.warmup)

            watched = {
                "workers": deployment.worker_pids,
                "hub": [deployment.hub_pid] if deployment.hub_pid else [],
                "loadgen": [a.pid for a in agents],
            }
            profiler = None
            if options.profile and deployment.worker_pids:
                profiler = Profiler(options.profile, options.profile_dir or Path("."))
                await profiler.start(deployment.worker_pids[0], options.duration)
            cpu0 = {k: [_cpu_seconds(p) for p in pids] for k, pids in watched.items()}
            wait0 = [_wait_seconds(p) for p in deployment.worker_pids]
            t0 = time.monotonic()
            marks0 = await asyncio.gather(*(a.mark() for a in agents))
            await asyncio.sleep(options.duration)
            marks1 = await asyncio.gather(*(a.mark() for a in agents))
            t1 = time.monotonic()
            cpu1 = {k: [_cpu_seconds(p) for p in pids] for k, pids in watched.items()}
            wait1 = [_wait_seconds(p) for p in deployment.worker_pids]
            cpu0["workers_wait"], cpu1["workers_wait"] = wait0, wait1
            profile = await profiler.finish() if profiler else None
            finals = [await a.stop() for a in agents]
        finally:
            for agent in agents:
                await agent.close()
            await setup.cleanup()

    window = t1 - t0
    return _result(
        options,
        deployment_info={
            **deployment.info,
            "spawned": deployment.spawned,
            "url": deployment.http_url,
            "placement": placement,
        },
        window=window,
        marks=(marks0, marks1),
        cpu=(cpu0, cpu1),
        finals=finals,
        readies=readies,
        published=published,
        joined_s=joined_s,
        profile=profile,
        cores=(server_cores, client_cores),
    )


async def _placement(redis_url: str | None, sessions: list[str]) -> dict[str, str | None]:
    """Which worker serves each room (from the media registry), when the Redis is known."""
    if not redis_url or not sessions:
        return {}
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        raw = await client.hmget("lc:{media}:rooms", sessions)
    except Exception:
        return {}
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()
    return {
        s: (w.decode() if isinstance(w, bytes) else w) for s, w in zip(sessions, raw, strict=True)
    }


def _result(
    options: MediaOptions,
    *,
    deployment_info: dict[str, Any],
    window: float,
    marks: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    cpu: tuple[dict[str, list[float | None]], dict[str, list[float | None]]],
    finals: list[dict[str, Any]],
    readies: list[dict[str, Any]],
    published: dict[str, Any],
    joined_s: float,
    profile: dict[str, Any] | None,
    cores: tuple[list[int] | None, list[int] | None],
) -> dict[str, Any]:
    start, end = marks
    # subscriber streams: agents[1:], each a list of per-subscriber {kind: counters}
    subscribers: list[dict[str, dict[str, int]]] = []
    for a, b in zip(start[1:], end[1:], strict=True):
        subscribers += [_delta(e, s) for s, e in zip(a["counters"], b["counters"], strict=True)]
    pub_start, pub_end = start[0]["counters"], end[0]["counters"]
    pub = [{k: e[k] - s[k] for k in e} for s, e in zip(pub_start, pub_end, strict=True)]

    sent = {"video": 0, "audio": 0}
    received = {"video": 0, "audio": 0}
    losses: list[float] = []
    fps: list[float] = []
    for sub in subscribers:
        expected = sum(sub.get(k, {}).get("expected", 0) for k in sent)
        got = sum(sub.get(k, {}).get("packets", 0) for k in sent)
        for kind in sent:
            sent[kind] += sub.get(kind, {}).get("expected", 0)
            received[kind] += sub.get(kind, {}).get("packets", 0)
        losses.append(round(100.0 * max(0, expected - got) / expected, 4) if expected else 100.0)
        fps.append(round(sub.get("video", {}).get("frames", 0) / window, 2))
    forwarded = sent["video"] + sent["audio"]

    def used(kind: str) -> list[float | None]:
        return [
            None if a is None or b is None else round(b - a, 3)
            for a, b in zip(cpu[0][kind], cpu[1][kind], strict=True)
        ]

    worker_cpu = used("workers")
    known = [c for c in worker_cpu if c is not None]
    worker_cpu_s = sum(known) if known and len(known) == len(worker_cpu) else None
    per_core = round(forwarded / worker_cpu_s) if worker_cpu_s else None
    utilisation = [None if c is None else round(c / window, 3) for c in worker_cpu]
    subs_per_worker = options.subscribers / options.workers
    busiest = max((u for u in utilisation if u is not None), default=None)
    capacity = math.floor(subs_per_worker / busiest) if busiest and options.subscribers else None
    # what one subscriber costs at the full rate: every packet the publisher sends, once
    published_pps = sum(p["video_packets"] + p["audio_packets"] for p in pub) / len(pub) / window
    us_per_packet = worker_cpu_s / forwarded * 1e6 if worker_cpu_s and forwarded else None
    by_packets = (
        math.floor(1e6 / (us_per_packet * published_pps))
        if us_per_packet and published_pps
        else None
    )
    timings = [s for f in finals[1:] for s in f.get("subscribers", [])]
    first_frames = [t["first_frame_ms"] for t in timings if t.get("first_frame_ms") is not None]
    connects = [t["connect_ms"] for t in timings if t.get("connect_ms") is not None]
    publisher_fps = round(sum(p["video_frames"] for p in pub) / len(pub) / window, 2) if pub else 0

    result: dict[str, Any] = {
        "kind": "media",
        "label": "liveclass-media",
        "created": iso_now(),
        "command": options.command,
        "config": {
            "subscribers": options.subscribers,
            "workers": options.workers,
            "processes": options.processes,
            "duration_s": options.duration,
            "warmup_s": options.warmup,
            "video": f"VP8 {options.width}x{options.height}@{options.fps} "
            f"{options.video_kbps} kbps",
            "audio": "Opus 48 kHz mono, 20 ms",
            "pin": options.pin,
            "worker_cores": cores[0],
            "client_cores": cores[1],
        },
        "machine": {**machine_info(), "aiortc": package_version("aiortc")},
        "deployment": deployment_info,
        "window_s": round(window, 3),
        "setup_s": round(joined_s, 2),
        "join": {
            "subscribers": options.subscribers,
            "joined": sum(r["joined"] for r in readies),
            "receiving": sum(r["receiving"] for r in readies),
            "failures": [f for r in readies for f in r["failures"]],
            "publish_ms": published.get("ms"),
        },
        "publisher": {
            "video_fps": publisher_fps,
            "video_kbps": round(sum(p["video_bytes"] for p in pub) * 8 / 1000 / window, 1),
            "keyframes": sum(p["video_keyframes"] for p in pub),
            "packets_per_s": round(published_pps, 1),
            "audio_fps": round(sum(p["audio_frames"] for p in pub) / len(pub) / window, 2),
            "keyframe_requests": sum(p["keyframe_requests"] for p in pub),
            # at the end: "connected" unless the publisher's connection failed meanwhile
            "connections": finals[0].get("publishers", []),
        },
        "forwarded": {
            "packets": forwarded,
            "packets_per_s": round(forwarded / window, 1),
            "video_packets_per_s": round(sent["video"] / window, 1),
            "audio_packets_per_s": round(sent["audio"] / window, 1),
            "received_packets": received["video"] + received["audio"],
            "per_subscriber_packets_per_s": round(forwarded / window / len(subscribers), 1)
            if subscribers
            else None,
        },
        "cpu": {
            "workers_s": worker_cpu,
            # runnable but not running: a worker starved by other processes on its core
            "workers_waiting_for_cpu_s": used("workers_wait"),
            "workers_utilisation": utilisation,
            "hub_s": used("hub"),
            "loadgen_utilisation": [
                None if c is None else round(c / window, 3) for c in used("loadgen")
            ],
        },
        "packets_per_core_s": per_core,
        "goal_packets_per_core_s": GOAL_PACKETS_PER_CORE,
        "worker_us_per_packet": round(us_per_packet, 1) if us_per_packet else None,
        "loss_pct": _pct(losses),
        "video_fps_received": _pct(fps),
        "first_frame_ms": _pct(first_frames),
        "connect_ms": _pct(connects),
        "capacity": {
            "subscribers_per_worker": subs_per_worker,
            "busiest_worker_utilisation": busiest,
            "linear_max_subscribers_per_worker": capacity,
            "max_subscribers_per_worker": by_packets,
            "workers_for_class": math.ceil(CLASS_SIZE / by_packets) if by_packets else None,
            "class_size": CLASS_SIZE,
        },
        "subscribers": [
            {**t, "loss_pct": loss, "video_fps": f}
            for t, loss, f in zip(timings, losses, fps, strict=False)
        ],
        "profile": profile,
        "pid": os.getpid(),
    }
    result["options"] = {
        k: v for k, v in asdict(options).items() if k not in ("deploy", "profile_dir")
    }
    return result
