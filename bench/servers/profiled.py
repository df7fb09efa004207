"""Run a module under cProfile until SIGTERM, then write the stats:
``python -m bench.servers.profiled OUT MODULE ARGS...`` (the bench's ``--profile-server``).

The profiler runs only between SIGUSR1 and SIGUSR2 (the bench sends them around its join
storm), or from the start when it gets no SIGUSR1 at all.

``python -m cProfile`` alone writes nothing for ``liveclass serve``: uvicorn, once shut down
gracefully, raises the SIGTERM it caught again, and its default action ends the process
before the profiler's stats are written. Here SIGTERM ends it with ``SystemExit`` instead.

The clock is the main thread's CPU time (``time.thread_time``): the event loop's work, without
its idle waits (a wall clock would charge them to whatever coroutine step was running) and
without other threads' (aiosqlite's).
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
import time
from types import FrameType


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    signal.signal(signal.SIGTERM, _stop)
    profiler = cProfile.Profile(time.thread_time)
    phased = False

    def start(signum: int, frame: FrameType | None) -> None:
        nonlocal phased
        if not phased:  # the first SIGUSR1 drops what was recorded before it
            phased = True
            profiler.disable()
            profiler.clear()
        profiler.enable()

    def pause(signum: int, frame: FrameType | None) -> None:
        profiler.disable()

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, pause)
    try:
        profiler.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
