"""The progress bar while a run goes: clients joined, then seconds of load with the live
delivery rate and error count (tqdm, on stderr; off when stderr is not a terminal or with
``--no-progress``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

__all__ = ["Bar", "Progress"]


class Bar:
    def __init__(self, bar: tqdm[Any] | None, kind: str, t0: float | None) -> None:
        self._bar = bar
        self._kind = kind
        self._t0 = t0
        self._last: tuple[float, int] | None = None

    def update(self, totals: dict[str, int]) -> None:
        bar = self._bar
        if bar is None:
            return
        now = time.monotonic()
        deliveries = totals.get("deliveries", 0)
        postfix = {"errors": totals.get("errors", 0)}
        if self._kind == "join":
            bar.n = min(totals.get("connected", 0), int(bar.total or 0))
        else:
            bar.n = round(min(max(0.0, now - (self._t0 or now)), float(bar.total or 0)), 1)
            if self._last is not None and now > self._last[0]:
                rate = (deliveries - self._last[1]) / (now - self._last[0])
                postfix["deliveries/s"] = int(rate)
            postfix["sent"] = totals.get("sent", 0)
            self._last = (now, deliveries)
        bar.set_postfix(postfix, refresh=False)
        bar.refresh()


class Progress:
    def __init__(self, label: str, enabled: bool | None = None) -> None:
        self.label = label
        # None: tqdm decides (shown on a terminal only)
        self.disable = None if enabled is None else not enabled

    @contextmanager
    def phase(self, kind: str, total: float, *, t0: float | None = None) -> Iterator[Bar]:
        unit = "clients" if kind == "join" else "s"
        fmt = None
        if kind != "join":
            fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}{postfix}]"
        bar: tqdm[Any] = tqdm(
            total=total,
            desc=f"{self.label} {kind}",
            unit=unit,
            bar_format=fmt,
            disable=self.disable,
            leave=True,
            dynamic_ncols=True,
        )
        try:
            yield Bar(None if bar.disable else bar, kind, t0)
        finally:
            bar.close()
