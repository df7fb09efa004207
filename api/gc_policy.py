"""The cyclic garbage collector's policy in a serving process (``liveclass serve``).

A full (generation 2) collection walks every object the collector tracks, on the event loop.
Once started, the server holds about 200,000 of them that live as long as the process
(modules, the app, SQLAlchemy's mappers, pydantic's models): each full collection took 65 to
95 ms of CPU over them, a stall that every chat message in flight waited out (at 20 messages
a second to 500 clients, a large part of the delivery latency's 99th percentile). Frozen once
start-up is done, they are never walked again; the collector still walks everything made
afterwards (connections, rooms, messages), and reference counting frees frozen objects as
usual.

The youngest generation is then collected every ``YOUNG_THRESHOLD`` allocations instead of
CPython's 700: a 500-client join storm made about 75 young, 7 middle and often one full
collection (25 to 50 ms of the storm's ~0.3 s of CPU, the full one 14 to 21 ms of it, and the
main difference between a fast and a slow storm); most of what a join allocates dies before the
next collection now, so less is promoted and walked again in the older generations.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "freeze_startup_heap"]

YOUNG_THRESHOLD = 10_000


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now out of the collector's reach. Call it
    once, when start-up is done and before serving: what is frozen and later becomes
    unreachable in a reference cycle is never freed, so freeze only what lives as long as
    the process. Sets the youngest generation's threshold (see the module's docstring)."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
