"""One media bench run: the same publisher and subscribers against liveclass and Janus.

For every subscriber count, ``repeat`` rounds, and in each round every target in turn
(``liveclass``, ``janus``: alternating, so a machine whose load drifts affects both alike):

1. Deploy the target: liveclass's hub and ``workers`` media workers
   (:mod:`bench.media.deploy`), or Janus (:mod:`bench.media.janus`), pinned to the server
   core; the load generators run on the others.
2. One room per worker (Janus gets as many rooms): the host publishes (one publisher process
   for all rooms: libvpx VP8 and Opus, every frame tagged, :mod:`bench.media.tags`), the
   subscribers join, spread over ``processes`` subscriber processes, and wait for their first
   keyframe.
3. After ``warmup`` seconds, the measured window: every counter and the CPU time of the SFU's
   processes (and the hub, and the load generators) are read at its start and its end.
   ``late_joiners`` more subscribers join during the window, one by one (their time to a
   first keyframe is the late-joiner figure; they are not in the loss figures).
4. ``settle`` seconds after the window, the subscribers report which of the window's frames
   (the publisher's frame index range) they received complete, and each one's delay.

Figures of a run: forwarded packets = per subscriber stream the advance of the highest RTP
sequence number (the packets the SFU sent: received + lost on the way); µs CPU per forwarded
packet = CPU seconds of the SFU's processes ÷ forwarded packets; frames lost end to end, per
subscriber and kind; delay publisher → subscriber per frame; late joiners' first keyframe.

Optionally the first liveclass worker is profiled during the window
(:mod:`bench.media.profile`), and the SFU's packets, frames and CPU are measured
independently of all this, from a packet capture and perf (:mod:`bench.media.independent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

from bench.affinity import split_cores
from bench.liveclass_rooms import LiveclassRooms
from bench.media.agents import Agent
from bench.media.deploy import DeployOptions, deploy
from bench.media.independent import IndependentCheck
from bench.media.independent_report import agreement
from bench.media.janus import JanusClient, run_janus
from bench.media.neighbour import busy_neighbour
from bench.media.profile import Profiler
from bench.results import iso_now, machine_info, package_version
from bench.stats import percentile_of_sorted

__all__ = ["TARGETS", "MediaOptions", "run_media"]

GOAL_PACKETS_PER_CORE = 38_000  # LiveKit's published per-core forwarding figure
CLASS_SIZE = 500
#: liveclass-frames: liveclass's workers on their former frame path (reassemble, queue and
#: re-packetize per subscriber), to compare the two in one run.
TARGETS = ("liveclass", "janus", "liveclass-frames")
#: The feed id of every Janus room's publisher.
_JANUS_FEED = 1
T = TypeVar("T")


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
    targets: tuple[str, ...] = ("liveclass", "janus")
    #: More subscriber counts to run after ``subscribers`` (each with every target).
    more_subscribers: tuple[int, ...] = ()
    repeat: int = 1
    late_joiners: int = 5
    late_gap: float = 0.5
    #: A process spinning on the SFU's core during each run (:mod:`bench.media.neighbour`).
    busy_neighbour: bool = False
    settle: float = 1.5
    #: Capture the SFU's datagrams and perf its CPU beside the bench's own accounting.
    independent_check: bool = False


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


def _split(items: list[T], parts: int) -> list[list[T]]:
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
    """Every (subscriber count, round, target) run; see the module docstring."""
    if options.subscribers < 1 or options.workers < 1 or options.processes < 1:
        raise ValueError("subscribers, workers and processes must be at least 1")
    unknown = set(options.targets) - set(TARGETS)
    if unknown or not options.targets:
        raise ValueError(f"targets must be among {TARGETS}, not {sorted(unknown)}")
    if options.deploy.url and "janus" in options.targets:
        raise ValueError("--url measures a deployment: run it with --targets liveclass")
    runs = []
    for count in (options.subscribers, *options.more_subscribers):
        for round_ in range(options.repeat):
            for target in options.targets:
                run = await _run_target(target, count, options)
                run["round"] = round_
                runs.append(run)
    return {
        "kind": "media",
        "label": "liveclass-media",
        "created": iso_now(),
        "command": options.command,
        "config": _config(options),
        "machine": {**machine_info(), "aiortc": package_version("aiortc")},
        "runs": runs,
        "comparison": compare(runs),
        "options": {k: v for k, v in asdict(options).items() if k not in ("deploy", "profile_dir")},
        "pid": os.getpid(),
    }


def _config(options: MediaOptions) -> dict[str, Any]:
    server_cores, client_cores = split_cores(options.pin)
    return {
        "subscribers": [options.subscribers, *options.more_subscribers],
        "targets": list(options.targets),
        "repeat": options.repeat,
        "workers": options.workers,
        "processes": options.processes,
        "duration_s": options.duration,
        "warmup_s": options.warmup,
        "late_joiners": options.late_joiners,
        "busy_neighbour": options.busy_neighbour,
        "video": f"VP8 {options.width}x{options.height}@{options.fps} {options.video_kbps} kbps",
        "audio": "Opus 48 kHz mono, 20 ms",
        "pin": options.pin,
        "server_cores": server_cores,
        "client_cores": client_cores,
    }


def compare(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per subscriber count: each target's median figures over its rounds, and liveclass's
    µs per packet as a multiple of Janus's (the same run, so the same machine load)."""
    out = []
    for count in sorted({r["subscribers"] for r in runs}):
        row: dict[str, Any] = {"subscribers": count}
        for target in sorted({r["target"] for r in runs}):
            mine = [r for r in runs if r["subscribers"] == count and r["target"] == target]
            row[target] = {
                "us_per_packet": _median([r["us_per_packet"] for r in mine]),
                "us_per_packet_all": [r["us_per_packet"] for r in mine],
                "video_frames_lost_pct": _median([r["frames"]["video"]["lost_pct"] for r in mine]),
                "audio_frames_lost_pct": _median([r["frames"]["audio"]["lost_pct"] for r in mine]),
                "video_delay_p50_ms": _median([r["frames"]["video"]["delay_p50_ms"] for r in mine]),
                "audio_delay_p50_ms": _median([r["frames"]["audio"]["delay_p50_ms"] for r in mine]),
                "late_joiners_served": [r["late_joiners"]["served"] for r in mine],
                "late_join_to_frame_p50_ms": _median(
                    [r["late_joiners"]["join_to_frame_ms"]["p50"] for r in mine]
                ),
                "sfu_waiting_for_cpu_s": [r["cpu"]["sfu_waiting_for_cpu_s"] for r in mine],
                "subscriber_us_per_received_packet": _median(
                    [r["cpu"].get("subscriber_us_per_received_packet") for r in mine]
                ),
                "loadgen_waiting_for_cpu_s_max": [
                    max((w or 0 for w in r["cpu"]["loadgen_waiting_for_cpu_s"]), default=None)
                    for r in mine
                ],
                "loadgen_utilisation_max": max(
                    (max(r["cpu"]["loadgen_utilisation"], default=0) or 0 for r in mine),
                    default=None,
                ),
            }
        janus = row.get("janus")
        for target, key in (
            ("liveclass", "us_per_packet_vs_janus"),
            ("liveclass-frames", "frames_us_per_packet_vs_janus"),
        ):
            ours = row.get(target)
            if ours and janus and ours["us_per_packet"] and janus["us_per_packet"]:
                row[key] = round(ours["us_per_packet"] / janus["us_per_packet"], 2)
        out.append(row)
    return out


def _median(values: list[Any]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 2) if known else None


@dataclass
class _Stage:
    """A deployed target: who publishes and subscribes where, whose CPU is measured."""

    publishers: list[dict[str, Any]]
    subscribers: list[dict[str, Any]]
    late: list[dict[str, Any]]
    sfu_pids: list[int]
    hub_pids: list[int]
    info: dict[str, Any]
    #: The interface the SFU's datagrams to the subscribers pass (for the independent check).
    interface: str = "lo"


def _per_room(total: int, rooms: int) -> list[int]:
    return [total // rooms + (1 if r < total % rooms else 0) for r in range(rooms)]


@contextlib.asynccontextmanager
async def _liveclass(count: int, options: MediaOptions, forwarding: str) -> AsyncIterator[_Stage]:
    server_cores, client_cores = split_cores(options.pin)
    deploy_options = options.deploy
    deploy_options.forwarding = forwarding
    if not deploy_options.url:
        deploy_options.workers = options.workers
        deploy_options.worker_cores = server_cores
        deploy_options.hub_cores = client_cores
        deploy_options.max_video_kbps = max(deploy_options.max_video_kbps, options.video_kbps)
    rooms = options.workers
    per_room = _per_room(count, rooms)
    late_per_room = _per_room(options.late_joiners, rooms)
    async with deploy(deploy_options) as deployment:
        setup = LiveclassRooms(deployment.http_url, deployment.minter, secrets.token_hex(3))
        try:
            size = max(p + q for p, q in zip(per_room, late_per_room, strict=True)) + 1
            urls = await setup.prepare(rooms, size)
            stage = _Stage(
                publishers=[{"kind": "liveclass", "url": room[0]} for room in urls],
                subscribers=[
                    {"kind": "liveclass", "url": url, "room_index": r}
                    for r, room in enumerate(urls)
                    for url in room[1 : 1 + per_room[r]]
                ],
                late=[
                    {"kind": "liveclass", "url": url, "room_index": r}
                    for r, room in enumerate(urls)
                    for url in room[1 + per_room[r] : 1 + per_room[r] + late_per_room[r]]
                ],
                sfu_pids=deployment.worker_pids,
                hub_pids=[deployment.hub_pid] if deployment.hub_pid else [],
                info={**deployment.info, "spawned": deployment.spawned},
            )
            yield stage
            stage.info["placement"] = await _placement(
                deployment.redis_url, [s for s, _ in setup.sessions]
            )
        finally:
            await setup.cleanup()


@contextlib.asynccontextmanager
async def _janus(count: int, options: MediaOptions, _forwarding: str) -> AsyncIterator[_Stage]:
    server_cores, _ = split_cores(options.pin)
    rooms = options.workers
    per_room = _per_room(count, rooms)
    late_per_room = _per_room(options.late_joiners, rooms)
    async with run_janus(server_cores) as janus:
        admin = await JanusClient.open(janus.ws_url)
        try:
            handle = await admin.attach()
            ids = []
            for _ in range(rooms):
                created, _jsep = await admin.message(
                    handle,
                    {
                        "request": "create",
                        "publishers": 1,
                        "videocodec": "vp8",
                        "audiocodec": "opus",
                        "bitrate": 0,
                        "permanent": False,
                    },
                )
                ids.append(int(created["room"]))
        finally:
            await admin.close()

        def target(r: int) -> dict[str, Any]:
            room = ids[r]
            return {
                "kind": "janus",
                "ws": janus.ws_url,
                "room": room,
                "feed": _JANUS_FEED,
                "address": janus.peer_address,
            }

        yield _Stage(
            publishers=[target(r) for r in range(rooms)],
            subscribers=[
                {**target(r), "room_index": r} for r in range(rooms) for _ in range(per_room[r])
            ],
            late=[
                {**target(r), "room_index": r}
                for r in range(rooms)
                for _ in range(late_per_room[r])
            ],
            sfu_pids=[janus.pid],
            hub_pids=[],
            info={"janus": _janus_version(), "rooms": ids},
            interface=janus.link,
        )


def _janus_version() -> str | None:
    from importlib.metadata import PackageNotFoundError

    with contextlib.suppress(PackageNotFoundError, OSError):
        for line in Path("/var/lib/dpkg/status").read_text().split("\n\n"):
            if line.startswith("Package: janus\n"):
                for field_ in line.splitlines():
                    if field_.startswith("Version: "):
                        return field_.split(" ", 1)[1]
    return None


async def _run_target(target: str, count: int, options: MediaOptions) -> dict[str, Any]:
    stage_of = _janus if target == "janus" else _liveclass
    forwarding = "frames" if target == "liveclass-frames" else "rtp"
    server_cores, _ = split_cores(options.pin)
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        if options.busy_neighbour:
            await stack.enter_async_context(busy_neighbour(server_cores))
        return await _run_stage(target, count, options, forwarding, stage_of, started)


async def _run_stage(
    target: str,
    count: int,
    options: MediaOptions,
    forwarding: str,
    stage_of: Callable[[int, MediaOptions, str], contextlib.AbstractAsyncContextManager[_Stage]],
    started: float,
) -> dict[str, Any]:
    _, client_cores = split_cores(options.pin)
    agents: list[Agent] = []
    check: IndependentCheck | None = None
    independent = None
    async with stage_of(count, options, forwarding) as stage:
        try:
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
                    "targets": stage.publishers,
                    "video": video,
                    "timeout": timeout,
                    "cores": client_cores,
                },
            )
            agents.append(publisher)
            published = await publisher.expect("ready", timeout * 2)
            shares = _split(stage.subscribers, options.processes)
            late_shares = _split(stage.late, len(shares))
            for i, share in enumerate(shares):
                agents.append(
                    await Agent.start(
                        f"subscribers #{i}",
                        {
                            "role": "subscribers",
                            "targets": share,
                            "late": late_shares[i] if i < len(late_shares) else [],
                            "late_gap": options.late_gap * len(shares),
                            "timeout": timeout,
                            "ready_timeout": options.ready_timeout,
                            "parallel": options.join_parallel,
                            "cores": client_cores,
                        },
                    )
                )
            wait_ready = options.ready_timeout + timeout + len(stage.subscribers) * 0.5
            readies = await asyncio.gather(*(a.expect("ready", wait_ready) for a in agents[1:]))
            joined_s = time.monotonic() - started
            if options.independent_check:
                check = IndependentCheck(stage.interface, client_cores)
                await check.start()
            await asyncio.sleep(options.warmup)

            sfu_pids = stage.sfu_pids
            watched = {
                "sfu": sfu_pids,
                "hub": stage.hub_pids,
                "loadgen": [a.pid for a in agents],
            }
            profiler = None
            if options.profile and target != "janus" and sfu_pids:
                profiler = Profiler(options.profile, options.profile_dir or Path("."))
                await profiler.start(sfu_pids[0], options.duration)
            if check:
                await check.begin(sfu_pids, options.duration)
            cpu0 = {k: [_cpu_seconds(p) for p in pids] for k, pids in watched.items()}
            wait0 = [_wait_seconds(p) for p in sfu_pids]
            loadgen_wait0 = [_wait_seconds(a.pid) for a in agents]
            t0 = time.monotonic()
            marks0 = await asyncio.gather(*(a.mark() for a in agents))
            for agent in agents[1:]:
                await agent.command({"cmd": "late"}, "late")
            await asyncio.sleep(options.duration)
            marks1 = await asyncio.gather(*(a.mark() for a in agents))
            t1 = time.monotonic()
            cpu1 = {k: [_cpu_seconds(p) for p in pids] for k, pids in watched.items()}
            wait1 = [_wait_seconds(p) for p in sfu_pids]
            loadgen_wait1 = [_wait_seconds(a.pid) for a in agents]
            if check:
                await check.end(sfu_pids)
            cpu0["sfu_wait"], cpu1["sfu_wait"] = wait0, wait1
            cpu0["loadgen_wait"], cpu1["loadgen_wait"] = loadgen_wait0, loadgen_wait1
            profile = await profiler.finish() if profiler else None
            await asyncio.sleep(options.settle)
            ranges = _frame_ranges(marks0[0], marks1[0])
            frames = [
                await a.command({"cmd": "frames", "ranges": ranges}, "frames") for a in agents[1:]
            ]
            finals = [await a.stop() for a in agents]
            independent = await check.figures() if check else None
        finally:
            for agent in agents:
                await agent.close()
            if check:
                await check.close()

    result = _result(
        options,
        target=target,
        count=count,
        deployment_info=stage.info,
        window=t1 - t0,
        marks=(marks0, marks1),
        cpu=(cpu0, cpu1),
        frames=[s for f in frames for s in f["subscribers"]],
        finals=finals,
        readies=readies,
        published=published,
        joined_s=joined_s,
        profile=profile,
    )
    if independent is not None:
        result["independent"] = {**independent, "agreement": agreement(result, independent)}
    return result


def _frame_ranges(start: dict[str, Any], end: dict[str, Any]) -> list[dict[str, list[int]]]:
    """Per room, the publisher's frame indices sent in the window: ``[first, end)``."""
    return [
        {
            "video": [a["video_frames"], b["video_frames"]],
            "audio": [a["audio_frames"], b["audio_frames"]],
        }
        for a, b in zip(start["counters"], end["counters"], strict=True)
    ]


async def _placement(redis_url: str | None, sessions: list[str]) -> dict[str, str | None]:
    """Which worker serves each room (from the media registry), when the Redis is known."""
    if not redis_url or not sessions:
        return {}
    from redis.asyncio import Redis

    from rooms.keys import MediaKeys

    client = Redis.from_url(redis_url)
    try:
        raw = await client.hmget(MediaKeys().rooms, sessions)
    except Exception:
        return {}
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()
    return {
        s: (w.decode() if isinstance(w, bytes) else w) for s, w in zip(sessions, raw, strict=True)
    }


def _frames(reports: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """End-to-end frame figures of one kind over every subscriber of a run."""
    rows = [r[kind] for r in reports if kind in r]
    expected = sum(r["expected"] for r in rows)
    received = sum(r["received"] for r in rows)
    lost = sorted(r["lost_pct"] for r in rows if r["lost_pct"] is not None)
    p50s = sorted(r["delay_p50_ms"] for r in rows if r["delay_p50_ms"] is not None)
    p95s = sorted(r["delay_p95_ms"] for r in rows if r["delay_p95_ms"] is not None)
    return {
        "expected": expected,
        "received": received,
        "lost_pct": round(100.0 * (expected - received) / expected, 3) if expected else None,
        "lost_pct_per_subscriber": _pct(lost),
        # the median subscriber's median delay, and the worst subscriber's 95th percentile
        "delay_p50_ms": percentile_of_sorted(p50s, 50),
        "delay_p95_ms_max": p95s[-1] if p95s else None,
    }


def _result(
    options: MediaOptions,
    *,
    target: str,
    count: int,
    deployment_info: dict[str, Any],
    window: float,
    marks: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    cpu: tuple[dict[str, list[float | None]], dict[str, list[float | None]]],
    frames: list[dict[str, Any]],
    finals: list[dict[str, Any]],
    readies: list[dict[str, Any]],
    published: dict[str, Any],
    joined_s: float,
    profile: dict[str, Any] | None,
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
    for sub in subscribers:
        expected = sum(sub.get(k, {}).get("expected", 0) for k in sent)
        got = sum(sub.get(k, {}).get("packets", 0) for k in sent)
        for kind in sent:
            sent[kind] += sub.get(kind, {}).get("expected", 0)
            received[kind] += sub.get(kind, {}).get("packets", 0)
        losses.append(round(100.0 * max(0, expected - got) / expected, 4) if expected else 100.0)
    forwarded = sent["video"] + sent["audio"]

    def used(kind: str) -> list[float | None]:
        return [
            None if a is None or b is None else round(b - a, 3)
            for a, b in zip(cpu[0][kind], cpu[1][kind], strict=True)
        ]

    sfu_cpu = used("sfu")
    loadgen_cpu = used("loadgen")
    subscriber_cpu = [c for c in loadgen_cpu[1:] if c is not None]
    received_packets = received["video"] + received["audio"]
    subscriber_us = (
        round(sum(subscriber_cpu) / received_packets * 1e6, 1)
        if received_packets and subscriber_cpu and len(subscriber_cpu) == len(loadgen_cpu) - 1
        else None
    )
    known = [c for c in sfu_cpu if c is not None]
    sfu_cpu_s = sum(known) if known and len(known) == len(sfu_cpu) else None
    us_per_packet = sfu_cpu_s / forwarded * 1e6 if sfu_cpu_s and forwarded else None
    published_pps = sum(p["video_packets"] + p["audio_packets"] for p in pub) / len(pub) / window
    by_packets = (
        math.floor(1e6 / (us_per_packet * published_pps))
        if us_per_packet and published_pps
        else None
    )
    timings = [s for f in finals[1:] for s in f.get("subscribers", [])]
    late = [s for f in finals[1:] for s in f.get("late", [])]
    first_frames = [t["first_frame_ms"] for t in timings if t.get("first_frame_ms") is not None]
    late_frames = [t["join_to_frame_ms"] for t in late if t.get("join_to_frame_ms") is not None]
    publisher_fps = round(sum(p["video_frames"] for p in pub) / len(pub) / window, 2) if pub else 0
    video_frames = [r.get("video", {}) for r in frames]
    return {
        "target": target,
        "subscribers": count,
        "deployment": deployment_info,
        "window_s": round(window, 3),
        "setup_s": round(joined_s, 2),
        "join": {
            "subscribers": count,
            "joined": sum(r["joined"] for r in readies),
            "receiving": sum(r["receiving"] for r in readies),
            "failures": [f for r in readies for f in r["failures"]]
            + [f for x in finals[1:] for f in x.get("failures", []) if f.startswith("late")],
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
            "received_packets": received_packets,
        },
        "cpu": {
            "sfu_s": sfu_cpu,
            # runnable but not running: an SFU starved by other processes on its core
            "sfu_waiting_for_cpu_s": used("sfu_wait"),
            "sfu_utilisation": [None if c is None else round(c / window, 3) for c in sfu_cpu],
            "hub_s": used("hub"),
            "loadgen_utilisation": [
                None if c is None else round(c / window, 3) for c in loadgen_cpu
            ],
            # the subscriber processes' CPU per packet they received (the load generator's
            # own cost: what decides how many subscribers one client core can hold)
            "subscriber_us_per_received_packet": subscriber_us,
            # a load generator starved of its core delays and drops what it receives
            "loadgen_waiting_for_cpu_s": used("loadgen_wait"),
        },
        "us_per_packet": round(us_per_packet, 1) if us_per_packet else None,
        "packets_per_core_s": round(1e6 / us_per_packet) if us_per_packet else None,
        "frames": {"video": _frames(frames, "video"), "audio": _frames(frames, "audio")},
        "packet_loss_pct": _pct(losses),
        "video_fps_received": _pct([round(v.get("received", 0) / window, 2) for v in video_frames]),
        "first_frame_ms": _pct(first_frames),
        "late_joiners": {
            "joined": len(late),
            "served": len(late_frames),
            "join_to_frame_ms": _pct(late_frames),
        },
        "capacity": {
            "max_subscribers_per_sfu_core": by_packets,
            "for_class": math.ceil(CLASS_SIZE / by_packets) if by_packets else None,
            "class_size": CLASS_SIZE,
        },
        "per_subscriber": [
            {**t, "packet_loss_pct": loss, "frames": f}
            for t, loss, f in zip(timings, losses, frames, strict=False)
        ],
        "late": late,
        "profile": profile,
    }
