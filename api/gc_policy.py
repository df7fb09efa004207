"""The cyclic garbage collector's policy in a serving process (``liveclass serve``).

A full (generation 2) collection walks every object the collector tracks, on the event loop.
Once started, the server holds about 200,000 of them that live as long as the process
(modules, the app, SQLAlchemy's mappers, pydantic's models): each full collection took 65 to
95 ms of CPU over them, a stall that every chat message in flight waited out (at 20 messages
a second to 500 clients, a large part of the delivery latency's 99th percentile). Frozen once
start-up is done, they are never walked again; the collector still walks everything made
afterwards (connections, rooms, messages), and reference counting frees frozen objects as
usual.

The young generation is then collected every :data:`YOUNG_THRESHOLD` allocations instead of
CPython's 700. A join storm keeps hundreds of joins in flight, each with its coroutines,
futures and buffers alive for a few hundred milliseconds: at 700, every collection walked them
again and moved them on to the older generations, where they were walked again, and the
heap's growth set off full collections besides. Measured on three 500-client storms on Redis
(``bench/servers/stalls.py``'s GC record): 272 young, 24 middle and 2 full collections, 148 ms
of CPU (about 15 % of the storms'), against 15 young and 1 middle, 53 ms. A young collection
now takes up to ~5 ms instead of ~2 ms, far less often, and the 40-50 ms full collections a
storm set off are gone.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "freeze_startup_heap"]

#: Allocations between collections of the youngest generation (CPython's default: 700).
YOUNG_THRESHOLD = 10_000


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now out of the collector's reach, and
    collect the young generation less often (see the module's docstring). Call it
    once, when start-up is done and before serving: what is frozen and later becomes
    unreachable in a reference cycle is never freed, so freeze only what lives as long as
    the process."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
