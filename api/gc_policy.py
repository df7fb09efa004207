"""The cyclic garbage collector's policy in a serving process (``liveclass serve``).

A full (generation 2) collection walks every object the collector tracks, on the event loop.
Once started, the server holds about 200,000 of them that live as long as the process
(modules, the app, SQLAlchemy's mappers, pydantic's models): each full collection took 65 to
95 ms of CPU over them, a stall that every chat message in flight waited out (at 20 messages
a second to 500 clients, a large part of the delivery latency's 99th percentile). Frozen once
start-up is done, they are never walked again; the collector still walks everything made
afterwards (connections, rooms, messages), and reference counting frees frozen objects as
usual.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap"]


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now out of the collector's reach. Call it
    once, when start-up is done and before serving: what is frozen and later becomes
    unreachable in a reference cycle is never freed, so freeze only what lives as long as
    the process."""
    gc.collect()
    gc.freeze()
