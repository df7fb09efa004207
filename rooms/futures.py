"""Resolving the futures that callers of a batching writer wait on, and stopping a task
without swallowing a cancellation aimed at the caller."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["cancel_and_wait", "settle"]

log = logging.getLogger("liveclass.tasks")


def settle(done: asyncio.Future[Any], error: BaseException | None, result: Any = None) -> None:
    """Resolve ``done`` with ``error``, or with ``result`` when ``error`` is None, unless it
    already is. A set exception is marked retrieved, so a caller that went away leaves no
    "never retrieved" warning."""
    if done.done():
        return
    if error is None:
        done.set_result(result)
    else:
        done.set_exception(error)
        done.exception()


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended; its errors are logged, not raised.

    A cancellation of the caller itself propagates. ``task.cancel(); with
    suppress(CancelledError): await task`` does not: the caller's own cancellation, arriving
    while it waits, is swallowed with the task's, and a loop that called it (a heartbeat)
    runs on, so whoever stopped it waits forever. The cancellation is also repeated until
    the task ends: a library inside it that swallows one (``asyncio.wait_for`` on Python 3.11
    can, when its inner future completes at the moment it is cancelled, as fakeredis's pub/sub
    read does) would otherwise keep it running.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("background task %s failed", task.get_name(), exc_info=error)
