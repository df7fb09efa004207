"""Throttled keyframe requests towards one published track.

Subscribers join, overflow or lose packets at their own pace; each needs a keyframe, but a
publisher asked for one per subscriber would send nothing else. :class:`KeyframeRequester`
sends the first request at once and merges every request made during the next
``min_interval`` seconds into one request sent when that interval ends.

Owner's duty: ``await close()`` (cancels and awaits the one background task it may run).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from media.tasks import cancel_and_wait

__all__ = ["KeyframeRequester"]

log = logging.getLogger("liveclass.media.keyframes")


class KeyframeRequester:
    """Calls ``send()`` (a PLI to the publisher) at most once per ``min_interval``."""

    def __init__(
        self,
        send: Callable[[], Awaitable[object]],
        *,
        min_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._interval = min_interval
        self._clock = clock
        self._last: float | None = None
        self._pending = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.requested = 0
        self.sent = 0

    def request(self) -> None:
        """Ask for a keyframe; returns at once (the PLI goes out from a background task)."""
        if self._closed:
            return
        self.requested += 1
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._pending and not self._closed:
            if self._last is not None:
                wait = self._last + self._interval - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._pending = False
            self._last = self._clock()
            self.sent += 1
            try:
                await self._send()
            except Exception:
                log.exception("keyframe request failed")

    async def close(self) -> None:
        """Stop: cancels a pending request and waits for the background task to end."""
        self._closed = True
        task, self._task = self._task, None
        await cancel_and_wait(task)
