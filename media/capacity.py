"""How many subscribers a media worker can carry, measured rather than assumed.

A fixed subscriber cap is wrong both ways: on a fast, idle core a worker could carry far more,
and on a shared or throttled core (a noisy neighbour, half a core) far fewer, and once the
event loop falls behind, datagrams pile up in the kernel, packets drop, and ICE consent checks
go unanswered until connections close. :class:`LoadMonitor` samples, every ``interval``
seconds,

- the event loop's lag: how late a timer set ``interval`` ahead fires (a loop busy with
  packets, or starved of its core, is late);
- the process's CPU time over the wall time since the last sample (its utilisation of one
  core: an asyncio worker uses one).

:meth:`LoadMonitor.capacity` turns them into the number of subscribers to admit:

- overloaded (smoothed lag above ``max_lag``, or utilisation above ``target``): no more than
  it has now;
- else, with at least ``min_sample`` subscribers to go by, the linear estimate
  ``subscribers * target / utilisation`` (CPU grows with the subscribers forwarded to);
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
import time
from collections.abc import Callable

from media.tasks import cancel_and_wait

__all__ = ["LoadMonitor"]


class LoadMonitor:
    """Loop lag and CPU utilisation of this process, and the capacity they allow."""

    def __init__(
        self,
        *,
        ceiling: int,
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
        #: Smoothed loop lag (seconds) and utilisation of one core (0..1+); None before
        #: the first sample.
        self.lag: float | None = None
        self.utilisation: float | None = None
        self._last: tuple[float, float] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling (on the running loop)."""
        if self._task is None:
            self._last = (self._clock(), self._cpu_clock())
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
        """One measurement: ``lag`` now, and the CPU used since the previous sample."""
        now, cpu = self._clock(), self._cpu_clock()
        if self._last is not None and now > self._last[0]:
            used = (cpu - self._last[1]) / (now - self._last[0])
            self.utilisation = self._smooth(self.utilisation, used)
        self.lag = self._smooth(self.lag, lag)
        self._last = (now, cpu)

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
        if used is None or subscribers < self.min_sample or used <= 0:
            return self.ceiling
        return min(self.ceiling, max(subscribers, math.floor(subscribers * self.target / used)))
