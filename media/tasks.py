"""Owning background tasks: every task the media plane starts is cancelled and awaited by
whoever started it.

:func:`cancel_and_wait` stops one task; :class:`TaskSet` holds fire-and-forget work (failed
peer connections torn down, for instance) until its owner closes it, letting it finish within
a grace period first. Neither ever hangs on a
task that is already done, and neither swallows a cancellation aimed at the caller itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from rooms.futures import cancel_and_wait

__all__ = ["TaskSet", "cancel_and_wait"]

log = logging.getLogger("liveclass.media.tasks")


class TaskSet:
    """Background tasks owned by one object; ``close()`` cancels and awaits them all."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> None:
        """Run ``coro`` in the background (closed: the coroutine is dropped, not run)."""
        if self._closed:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self, *, grace: float = 0.0) -> None:
        """Refuse new work; give running tasks ``grace`` seconds to finish, then cancel and
        await the rest (teardown work such as closing a connection deserves to complete)."""
        self._closed = True
        if grace > 0 and self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        while self._tasks:
            await cancel_and_wait(self._tasks.pop())
