"""A media load-generator process: the publisher(s), or a share of the subscribers.

Run by the orchestrator (:mod:`bench.media.run`) as ``python -m bench.media.agent``; it talks
JSON lines: the job is the first line on stdin, then

- agent → ``{"event": "ready", ...}`` once its peers are up (publishers: media flowing;
  subscribers: every one got its first keyframe, or ``ready_timeout`` passed);
- ``{"cmd": "mark"}`` → ``{"event": "mark", "t": <monotonic>, "counters": ...}``: the counters
  now (the orchestrator marks the start and the end of the measured window);
- subscribers only: ``{"cmd": "late"}`` → ``{"event": "late"}`` at once, then the job's
  ``late`` peers join one by one, ``late_gap`` seconds apart (late joiners: their time to a
  first keyframe is reported with the result);
- subscribers only: ``{"cmd": "frames", "ranges": [{"video": [first, end], "audio": [...]},
  ...]}`` (one per room, by the publisher's frame indices) → ``{"event": "frames",
  "subscribers": [...]}``: per subscriber and kind, the tagged frames of the window it
  received complete and their delay (:mod:`bench.media.tags`);
- ``{"cmd": "stop"}`` → ``{"event": "result", ...}``: closes every peer and exits.

A subscribers job joins its peers ``parallel`` at a time, each holding its place ``join_gap``
seconds after it joined (default 0: as fast as they can; one at a time and a gap lets a worker
measure each newcomer before the next). Each peer's report names its ``participant`` id.
End of stdin counts as ``stop``. Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from typing import Any

from bench.media.peers import PublisherPeer, SubscriberPeer, VideoSettings, close_all

__all__ = ["main"]


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _commands(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await reader.readline()
    return json.loads(line) if line.strip() else {"cmd": "stop"}


async def _publishers(job: dict[str, Any], reader: asyncio.StreamReader) -> None:
    video = VideoSettings(**job["video"])
    peers = [PublisherPeer(target, video) for target in job["targets"]]
    try:
        started = time.monotonic()
        await asyncio.gather(*(p.publish(job["timeout"]) for p in peers))
        _emit({"event": "ready", "ms": round((time.monotonic() - started) * 1000, 1)})
        while (await _commands(reader))["cmd"] != "stop":
            counters = [await p.counters() for p in peers]
            _emit({"event": "mark", "t": time.monotonic(), "counters": counters})
        _emit(
            {
                "event": "result",
                "counters": [await p.counters() for p in peers],
                "publishers": [
                    {
                        "connection": p.pc.connectionState,
                        "closed_code": p.hub.closed_code,
                        "republished_ms": p.republished_ms,
                    }
                    for p in peers
                ],
            }
        )
    finally:
        await close_all(peers)


async def _subscribers(job: dict[str, Any], reader: asyncio.StreamReader) -> None:
    peers = [SubscriberPeer(target) for target in job["targets"]]
    late = [SubscriberPeer(target) for target in job.get("late", [])]
    gate = asyncio.Semaphore(job.get("parallel", 8))
    timeout = float(job["timeout"])
    failures: list[str] = []
    latecomers: asyncio.Task[None] | None = None

    async def join_late() -> None:
        for peer in late:
            try:
                await peer.join(timeout)
            except Exception as exc:
                failures.append(f"late-join:{type(exc).__name__}")
            await asyncio.sleep(float(job.get("late_gap", 0.5)))

    async def join(peer: SubscriberPeer) -> None:
        try:
            async with gate:
                await peer.join(timeout)
                await asyncio.sleep(float(job.get("join_gap", 0.0)))
        except Exception as exc:
            failures.append(f"join:{type(exc).__name__}")

    try:
        await asyncio.gather(*(join(p) for p in peers))
        waiting = [p.first_keyframe.wait() for p in peers if p.joined]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(job["ready_timeout"]):
                await asyncio.gather(*waiting)
        _emit(
            {
                "event": "ready",
                "joined": sum(p.joined for p in peers),
                "receiving": sum(p.first_keyframe.is_set() for p in peers),
                "failures": failures,
            }
        )
        while (command := await _commands(reader))["cmd"] != "stop":
            if command["cmd"] == "late":
                latecomers = asyncio.create_task(join_late())
                _emit({"event": "late"})
            elif command["cmd"] == "frames":
                ranges = command["ranges"]
                frames = [p.frames(ranges[p.target.get("room_index", 0)]) for p in peers]
                _emit({"event": "frames", "subscribers": frames})
            else:
                counters = [p.counters() for p in peers]
                _emit({"event": "mark", "t": time.monotonic(), "counters": counters})
        if latecomers is not None:
            await latecomers
        _emit(
            {
                "event": "result",
                "subscribers": [_report(p) for p in peers],
                "late": [_report(p) for p in late],
                "failures": failures,
            }
        )
    finally:
        if latecomers is not None:
            latecomers.cancel()
            await asyncio.gather(latecomers, return_exceptions=True)
        await close_all(peers + late)


def _report(peer: SubscriberPeer) -> dict[str, Any]:
    return {
        **peer.timings(),
        "participant": (peer.hub.welcome or {}).get("participant", {}).get("id"),
        "offers": peer.offers,
        "errors": [e.get("code") for e in peer.hub.errors],
        "closed_code": peer.hub.closed_code,
        "connection": peer.pc.connectionState,
        "direct": peer.direct(),
    }


async def _main() -> None:
    reader = await _lines()
    job = json.loads(await reader.readline())
    if job.get("cores"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, job["cores"])
    if job["role"] == "publisher":
        await _publishers(job, reader)
    else:
        await _subscribers(job, reader)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(_main())


if __name__ == "__main__":
    main()
