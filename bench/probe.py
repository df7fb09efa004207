"""Reading the server's cost: CPU time and RSS of its process (psutil), and Redis's CPU.

A :class:`Probe` samples the server process (when its pid is known: always for a server the
bench spawns, with ``--server-pid`` for a given URL) and, when the server uses a Redis on this
machine, Redis's own CPU time from ``INFO cpu`` (the whole redis-server, which other users of
it share). Samples are ``(monotonic seconds, server CPU s, server RSS bytes, Redis CPU s)``;
:func:`delta` reads a difference between two times from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from bisect import bisect_left

import psutil
import redis.asyncio as aioredis

__all__ = ["Probe", "Sample", "delta", "value_at"]

Sample = tuple[float, float | None, int | None, float | None]


class Probe:
    def __init__(self, pid: int | None, redis_url: str | None = None) -> None:
        self.process: psutil.Process | None = None
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                self.process = psutil.Process(pid)
        self._redis = aioredis.Redis.from_url(redis_url) if redis_url else None
        self.samples: list[Sample] = []

    async def sample(self) -> Sample:
        cpu: float | None = None
        rss: int | None = None
        if self.process is not None:
            try:
                with self.process.oneshot():
                    times = self.process.cpu_times()
                    cpu = times.user + times.system
                    rss = self.process.memory_info().rss
            except psutil.Error:
                self.process = None
        redis_cpu = await self._redis_cpu()
        sample = (time.monotonic(), cpu, rss, redis_cpu)
        self.samples.append(sample)
        return sample

    async def _redis_cpu(self) -> float | None:
        if self._redis is None:
            return None
        try:
            info = await asyncio.wait_for(self._redis.info("cpu"), 2.0)
        except Exception:
            return None
        return float(info.get("used_cpu_user", 0.0)) + float(info.get("used_cpu_sys", 0.0))

    async def every(self, start: float, period: float, until: float) -> None:
        """Sample at ``start + k x period`` until ``until`` (monotonic seconds)."""
        k = 0
        while True:
            at = start + k * period
            if at > until:
                return
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            await self.sample()
            k += 1

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def value_at(points: list[tuple[float, float]], t: float) -> float | None:
    """Linear interpolation of sorted ``(time, value)`` points at ``t`` (clamped)."""
    if not points:
        return None
    times = [p[0] for p in points]
    i = bisect_left(times, t)
    if i <= 0:
        return points[0][1]
    if i >= len(points):
        return points[-1][1]
    (t1, v1), (t2, v2) = points[i - 1], points[i]
    if t2 == t1:
        return v2
    return v1 + (v2 - v1) * (t - t1) / (t2 - t1)


def delta(points: list[tuple[float, float]], start: float, end: float) -> float | None:
    """How much a cumulative value grew between ``start`` and ``end``."""
    a, b = value_at(points, start), value_at(points, end)
    return None if a is None or b is None else b - a
