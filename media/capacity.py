"""How many subscribers a media worker can carry, measured rather than assumed.

A fixed subscriber cap is wrong both ways: on a fast, idle core a worker could carry far more,
and on a shared or throttled core (a noisy neighbour, half a core) far fewer, and once the
event loop falls behind, datagrams pile up in the kernel, packets drop, and ICE consent checks
go unanswered until connections close. :class:`LoadMonitor` samples, every ``interval``
seconds,

- the event loop's lag: how late a timer set ``interval`` ahead fires (a loop busy with
  packets, or starved of its core, is late);
- the process's CPU time, plus the time its threads were runnable but waited for a CPU (the
  kernel's run-queue wait, ``/proc/self/task/*/schedstat``), over the wall time since the last
  sample: the share of the time it wanted a core. On a free core the wait is ~0 and this is
  plain utilisation; on a shared one (a busy loop beside it, half a core) CPU time alone never
  reaches the target, since the process cannot get more than its share, while the wait grows
  as it nears that share: runnable 80 % of the time is 80 % of what it can get, whatever the
  share.

:meth:`LoadMonitor.capacity` turns them into the number of subscribers to admit:

- overloaded (smoothed lag above ``max_lag``, or utilisation above ``target``): no more than
  it has now;
- else the linear estimate ``subscribers * target / utilisation`` (CPU grows with the
  subscribers forwarded to), never below what it has; with fewer than ``min_sample``
  subscribers it extrapolates from ``min_sample`` (a few subscribers' cost is mostly the
  publisher's and the loop's own, too little to scale from, but a core already busy with
  them leaves little room: a starved worker with one subscriber at 67 % admits 5, not the
  ceiling);
- never more than the configured ``ceiling``.

The worker admits a participant only while it has fewer than its capacity; the rest go to a
relay worker (see :mod:`media.worker`), and its heartbeat publishes the figure so other
workers' placements use it too. Values are smoothed (exponentially, ``smoothing`` per
sample) so one slow pass does not turn subscribers away.

Owner's duty: ``start()`` (on the loop) and ``await close()``.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable

from media.tasks import cancel_and_wait

__all__ = ["LoadMonitor", "run_queue_wait"]


def run_queue_wait() -> float:
    """Seconds this process's threads have been runnable but waiting for a CPU, since they
    started (Linux schedstat; 0.0 where it cannot be read, so the monitor falls back to CPU
    time alone)."""
    total = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0.0
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/schedstat", "rb") as stats:
                total += int(stats.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total / 1e9


class LoadMonitor:
    """Loop lag and CPU utilisation of this process, and the capacity they allow."""

    def __init__(
        self,
        *,
        ceiling: int,
        wait_clock: Callable[[], float] | None = None,
        interval: float = 0.5,
        target: float = 0.8,
        max_lag: float = 0.05,
        min_sample: int = 5,
        smoothing: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        if ceiling < 1 or not 0 < target <= 1 or interval <= 0 or not 0 < smoothing <= 1:
            raise ValueError("ceiling >= 1, 0 < target <= 1, interval > 0, 0 < smoothing <= 1")
        self.ceiling = ceiling
        self.interval = interval
        self.target = target
        self.max_lag = max_lag
        self.min_sample = min_sample
        self._smoothing = smoothing
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._wait_clock = wait_clock or run_queue_wait
        #: Smoothed loop lag (seconds) and utilisation of one core (0..1+: CPU time plus
        #: run-queue wait, over wall time); None before the first sample.
        self.lag: float | None = None
        self.utilisation: float | None = None
        #: Of that, the smoothed share spent waiting for a CPU (0 on a core of its own).
        self.waiting: float | None = None
        self._last: tuple[float, float, float] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling (on the running loop)."""
        if self._task is None:
            self._last = (self._clock(), self._cpu_clock(), self._wait_clock())
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="media-load-monitor"
            )

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            due = self._clock() + self.interval
            await asyncio.sleep(self.interval)
            self.sample(lag=max(0.0, self._clock() - due))

    def sample(self, *, lag: float) -> None:
        """One measurement: ``lag`` now, and the CPU used and waited for since the previous
        sample."""
        now, cpu, wait = self._clock(), self._cpu_clock(), self._wait_clock()
        if self._last is not None and now > self._last[0]:
            wall = now - self._last[0]
            waited = max(0.0, wait - self._last[2]) / wall
            used = max(0.0, cpu - self._last[1]) / wall + waited
            self.utilisation = self._smooth(self.utilisation, used)
            self.waiting = self._smooth(self.waiting, waited)
        self.lag = self._smooth(self.lag, lag)
        self._last = (now, cpu, wait)

    def _smooth(self, old: float | None, new: float) -> float:
        return new if old is None else old + self._smoothing * (new - old)

    @property
    def overloaded(self) -> bool:
        lag, used = self.lag or 0.0, self.utilisation or 0.0
        return lag > self.max_lag or used > self.target

    def capacity(self, subscribers: int) -> int:
        """How many subscribers this worker should carry, given it carries ``subscribers``."""
        if self.overloaded:
            return min(self.ceiling, subscribers)
        used = self.utilisation
        if used is None or used <= 0:
            return self.ceiling
        basis = max(subscribers, self.min_sample)
        return min(self.ceiling, max(subscribers, math.floor(basis * self.target / used)))
