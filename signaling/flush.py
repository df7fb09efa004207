"""Once per event-loop iteration, write what every busy connection has queued.

Fan-out marks connections instead of waking a writer task per recipient. The flusher runs
once after the current callbacks (``loop.call_soon``) and writes each marked connection's
queue as one frame, so messages that arrive together (a burst on the bus, presence and chat
in the same tick) leave as one frame and one system call per connection. A payload that many
connections send alone (the usual fan-out) is framed once and the same bytes are written to
each of them.

A room's fan-out on a quiet hub does not wait for the flush: when the last write burst (a
flush, or another such fan-out) ended at least ``quiet`` seconds ago,
:meth:`Flusher.write_through` lets the fan-out write to each connection with nothing queued
at once (``Connection.push``; one with something queued gets it queued after that, in order).
The first recipients of a chat message then get it while the fan-out goes on, not after the
whole room has been queued (issue 18: latency at 10k deliveries/s). Under load (fan-outs
closer together than ``quiet``) every fan-out queues as before, and the messages of a loop
pass still leave as one frame per connection: the throughput rests on that coalescing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from signaling import close_codes
from signaling.wire import ws_frame

__all__ = ["Flushable", "Flusher"]

log = logging.getLogger("liveclass.hub")


class Flushable(Protocol):
    """What the flusher needs of a connection (``signaling.connection.Connection``; a
    protocol, so this module does not import the one that imports it)."""

    @property
    def participant_id(self) -> str: ...

    def flush(self) -> None: ...

    def close(self, code: int, reason: str, *, flush: bool = True) -> None: ...


class Flusher:
    def __init__(self, *, quiet: float = 0.002) -> None:
        self._marked: list[Flushable] = []
        self._scheduled = False
        # id(payload) -> (payload, frame bytes); the payload is kept so its id stays unique.
        self._frames: dict[int, tuple[str | bytes, bytes]] = {}
        self.quiet = quiet
        self._direct = False  # inside a write_through that writes at once (not nested)
        self._last_burst = float("-inf")  # loop time the last write burst ended

    @contextmanager
    def write_through(self) -> Iterator[bool]:
        """Around a fan-out: yields whether its pushes may write to idle connections at once
        (the hub was quiet; see the module's doc). Not nested: an inner one only queues."""
        loop = asyncio.get_running_loop()
        # A flush already scheduled (the sender's ack, say) does not count as load: a
        # connection with something queued queues this too (Connection.push), in order.
        if self._direct or loop.time() - self._last_burst < self.quiet:
            yield False
            return
        self._direct = True
        try:
            yield True
        finally:
            self._direct = False
            self._last_burst = loop.time()
            if not self._scheduled:  # else the flush, which uses them, clears them
                self._frames.clear()

    def mark(self, conn: Flushable) -> None:
        """Have ``conn``'s queue written at the end of this loop iteration."""
        self._marked.append(conn)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run)

    def frame(self, payload: str | bytes) -> bytes:
        """``payload`` as a WebSocket frame, framed once per flush."""
        hit = self._frames.get(id(payload))
        if hit is not None and hit[0] is payload:
            return hit[1]
        data = ws_frame(payload)
        self._frames[id(payload)] = (payload, data)
        return data

    def _run(self) -> None:
        self._scheduled = False
        marked, self._marked = self._marked, []
        try:
            for conn in marked:
                try:
                    conn.flush()
                except Exception as exc:  # one broken socket must not stop the others
                    log.debug("write to %s failed: %r", conn.participant_id, exc)
                    conn.close(close_codes.GOING_AWAY, "send failed", flush=False)
        finally:
            self._frames.clear()
            self._last_burst = asyncio.get_running_loop().time()
