"""What one load-generator process measures: latencies per time window, joins, errors.

Fan-out latencies go into one :class:`~bench.stats.Histogram` per client group (``healthy``
or ``slow``) and per one-second window counted from the start of the load (window ``-1`` is
everything before it). Join latencies go into one histogram per kind: ``join`` (the first
connection), ``rejoin`` (presence churn) and ``resume`` (resume storm). Everything is plain data
for the result JSON once :meth:`Recorder.to_dict` is called.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench.stats import Histogram

__all__ = ["Recorder", "now_us"]


def now_us() -> int:
    """Microseconds on the machine-wide monotonic clock (shared by every local process)."""
    return time.monotonic_ns() // 1000


class Recorder:
    def __init__(self) -> None:
        self.t0_us: int | None = None
        self.windows: dict[str, dict[int, Histogram]] = {}
        self.deliveries = 0
        self.joins: dict[str, Histogram] = {
            "join": Histogram(),
            "rejoin": Histogram(),
            "resume": Histogram(),
        }
        self.first_attempt_us: int | None = None
        self.last_welcome_us: int | None = None
        self.errors: Counter[str] = Counter()
        self.unexpected = 0
        self.closes: Counter[str] = Counter()
        self.sent: Counter[int] = Counter()
        self.skipped = 0
        self.resume: Counter[str] = Counter()
        self.seq: Counter[str] = Counter()
        self.cpu: list[tuple[float, float]] = []
        self.last_delivery_us = 0
        self.frames = 0
        self.decoded = 0

    def latencies(self, group: str, received_us: int, sent: list[int]) -> None:
        """Chat messages with send stamps ``sent`` arrived (all in one frame)."""
        t0 = self.t0_us
        window = (received_us - t0) // 1_000_000 if t0 is not None and received_us >= t0 else -1
        by_window = self.windows.get(group)
        if by_window is None:
            by_window = self.windows[group] = {}
        hist = by_window.get(window)
        if hist is None:
            hist = by_window[window] = Histogram()
        record = hist.record
        for stamp in sent:
            record(received_us - stamp)
        self.deliveries += len(sent)
        self.last_delivery_us = received_us

    def joined(self, kind: str, started_us: int, welcomed_us: int) -> None:
        self.joins[kind].record(welcomed_us - started_us)
        if kind == "join" and (self.last_welcome_us is None or welcomed_us > self.last_welcome_us):
            self.last_welcome_us = welcomed_us

    def attempt(self, started_us: int) -> None:
        if self.first_attempt_us is None or started_us < self.first_attempt_us:
            self.first_attempt_us = started_us

    def error(self, key: str, *, unexpected: bool = True) -> None:
        self.errors[key] += 1
        if unexpected:
            self.unexpected += 1

    def closed(self, code: int, *, unexpected: bool) -> None:
        self.closes[str(code)] += 1
        if unexpected:
            self.error(f"close:{code}")

    def cpu_sample(self) -> None:
        self.cpu.append((time.monotonic(), time.process_time()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": {
                group: {str(w): h.to_dict() for w, h in sorted(by_window.items())}
                for group, by_window in self.windows.items()
            },
            "deliveries": self.deliveries,
            "joins": {kind: h.to_dict() for kind, h in self.joins.items()},
            "first_attempt_us": self.first_attempt_us,
            "last_welcome_us": self.last_welcome_us,
            "errors": dict(self.errors),
            "unexpected": self.unexpected,
            "closes": dict(self.closes),
            "sent": {str(k): v for k, v in sorted(self.sent.items())},
            "skipped": self.skipped,
            "resume": dict(self.resume),
            "seq": dict(self.seq),
            "cpu": self.cpu,
            "frames": self.frames,
            "decoded_frames": self.decoded,
        }
