"""Run a module and record what stalls its event loop: ``python -m bench.servers.stalls OUT
MODULE ARGS...`` (the bench's ``--stall-monitor``); ``python -m bench.servers.stalls
--summary OUT`` prints what it recorded.

Recording runs between SIGUSR1 and SIGUSR2 (the bench sends them around the chat load), or
from the start when no SIGUSR1 comes; SIGTERM ends the module with ``SystemExit`` and OUT
(JSON) is written. Two things are recorded, both on the main thread's CPU clock, so they
read the same on a busy machine and a quiet one:

- every cyclic-GC collection (``gc.callbacks``): its generation and CPU time;
- busy stretches: a sampling thread looks at the main thread's Python stack about every
  millisecond; the main thread is idle while its top frame is the event loop waiting
  (uvloop's ``run_until_complete``, asyncio's ``select``), busy otherwise. A stretch of at
  least :data:`THRESHOLD_MS` wall milliseconds is kept with its CPU time, the GC CPU
  inside it and the stack the samples saw most. (The sampler needs the GIL, which a busy
  main thread hands over every switch interval, 5 ms: stretches are timed to about that.)
"""

from __future__ import annotations

import collections
import gc
import json
import os
import runpy
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

SCHEMA = "liveclass-bench-stalls/1"
#: The shortest busy stretch kept.
THRESHOLD_MS = 10.0
#: Top frames of a main thread that waits for events: the loop's run call (uvloop runs its
#: loop in C) or asyncio's selector.
_IDLE = {
    ("runners.py", "run"),
    ("base_events.py", "run_until_complete"),
    ("base_events.py", "run_forever"),
    ("selectors.py", "select"),
}


class Recorder:
    """Collects GC pauses and busy stretches of the thread that created it."""

    def __init__(self, threshold_ms: float) -> None:
        self.threshold_ms = threshold_ms
        self._ident = threading.get_ident()
        self._clock = time.pthread_getcpuclockid(self._ident)
        self._lock = threading.Lock()
        self._gc_started = 0.0
        self._gc_cpu = 0.0  # CPU seconds of every collection so far (the stretches' share)
        self.start()

    def cpu(self) -> float:
        return time.clock_gettime(self._clock)

    def start(self) -> None:
        with self._lock:
            self.recording = True
            self.started = time.perf_counter()
            self.cpu_started = self.cpu()
            self.ended: float | None = None
            self.cpu_ended: float | None = None
            self.gc: list[dict[str, Any]] = []
            self.stretches: list[dict[str, Any]] = []

    def stop(self) -> None:
        with self._lock:
            self.recording = False
            self.ended = time.perf_counter()
            self.cpu_ended = self.cpu()

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if threading.get_ident() != self._ident:
            return
        if phase == "start":
            self._gc_started = self.cpu()
            return
        spent = self.cpu() - self._gc_started
        self._gc_cpu += spent
        if self.recording:
            self.gc.append({"generation": info["generation"], "cpu_ms": spent * 1e3})

    def sample(self) -> None:
        """The sampling thread's loop (never returns)."""
        stretch: dict[str, Any] | None = None
        stacks: collections.Counter[str] = collections.Counter()
        while True:
            time.sleep(0.001)
            frame = sys._current_frames().get(self._ident)
            now = time.perf_counter()
            if frame is not None and not _idle(frame):
                if stretch is None:
                    stretch = {"t": now, "cpu": self.cpu(), "gc": self._gc_cpu}
                    stacks.clear()
                stacks[_signature(frame)] += 1
                continue
            if stretch is None:
                continue
            wall_ms = (now - stretch["t"]) * 1e3
            with self._lock:
                if self.recording and wall_ms >= self.threshold_ms:
                    self.stretches.append(
                        {
                            "t": stretch["t"] - self.started,
                            "wall_ms": wall_ms,
                            "cpu_ms": (self.cpu() - stretch["cpu"]) * 1e3,
                            "gc_cpu_ms": (self._gc_cpu - stretch["gc"]) * 1e3,
                            "stack": stacks.most_common(1)[0][0],
                        }
                    )
            stretch = None

    def document(self) -> dict[str, Any]:
        ended = self.ended if self.ended is not None else time.perf_counter()
        cpu_ended = self.cpu_ended if self.cpu_ended is not None else self.cpu()
        return {
            "schema": SCHEMA,
            "threshold_ms": self.threshold_ms,
            "recorded_s": ended - self.started,
            "main_cpu_s": cpu_ended - self.cpu_started,
            "gc": self.gc,
            "stretches": self.stretches,
            "gc_frozen": gc.get_freeze_count(),
            "gc_tracked": len(gc.get_objects()),
        }


def _idle(frame: FrameType) -> bool:
    code = frame.f_code
    return (os.path.basename(code.co_filename), code.co_name) in _IDLE


def _signature(frame: FrameType) -> str:
    """The outermost frame above the loop (the task or callback) and the two innermost."""
    names: list[str] = []
    f: FrameType | None = frame
    while f is not None and not _idle(f):
        names.append(f"{os.path.basename(f.f_code.co_filename)}:{f.f_code.co_name}")
        f = f.f_back
    if len(names) <= 3:
        return " < ".join(names)
    return " < ".join(names[:2]) + " < ... < " + names[-1]


def summary(document: dict[str, Any]) -> str:
    """A few lines: GC collections per generation and the stretches, longest CPU first."""
    lines = [
        f"recorded {document['recorded_s']:.1f} s, main thread CPU "
        f"{document['main_cpu_s']:.2f} s; gc frozen {document['gc_frozen']}, "
        f"tracked {document['gc_tracked']}"
    ]
    for generation in (0, 1, 2):
        spent = [c["cpu_ms"] for c in document["gc"] if c["generation"] == generation]
        if spent:
            lines.append(
                f"gc gen {generation}: {len(spent)} collections, {sum(spent):.1f} ms CPU, "
                f"longest {max(spent):.1f} ms"
            )
    stretches = sorted(document["stretches"], key=lambda s: -s["cpu_ms"])
    cpu = [s["cpu_ms"] for s in stretches]
    lines.append(
        f"busy stretches >= {document['threshold_ms']:g} ms wall: {len(cpu)}, "
        f"CPU >= 10 ms: {sum(c >= 10 for c in cpu)}, >= 20 ms: {sum(c >= 20 for c in cpu)}, "
        f"CPU total {sum(cpu):.1f} ms"
    )
    for s in stretches[:10]:
        lines.append(
            f"  t={s['t']:6.2f} s  CPU {s['cpu_ms']:6.1f} ms (GC {s['gc_cpu_ms']:5.1f})  "
            f"wall {s['wall_ms']:6.1f} ms  {s['stack']}"
        )
    return "\n".join(lines)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    if sys.argv[1:2] == ["--summary"]:
        print(summary(json.loads(Path(sys.argv[2]).read_text())))
        return
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    # Run by path (the bench does, so a tree without this file can be measured), the first
    # import path is this folder; the module is looked up from the working directory, as -m.
    sys.path[0] = os.getcwd()
    recorder = Recorder(THRESHOLD_MS)
    gc.callbacks.append(recorder.on_gc)
    threading.Thread(target=recorder.sample, name="stalls", daemon=True).start()
    signal.signal(signal.SIGUSR1, lambda signum, frame: recorder.start())
    signal.signal(signal.SIGUSR2, lambda signum, frame: recorder.stop())
    signal.signal(signal.SIGTERM, _stop)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        Path(out).write_text(json.dumps(recorder.document()))


if __name__ == "__main__":
    main()
