"""Waiting, bounded, for state that changes without an event to wait on: the one polling
helper of the suite.

The rule is "no sleeps where an event will do": a test waits on an ``asyncio.Event``, a
queue, a future, a log line or a message whenever the code under test offers one (or can
cheaply offer one). Polling is left for state nobody announces, typically owned by another OS
process (a node's database pool reconnecting, a row written behind a REST API, a load balancer
still routing to a draining node) or in-process state that changes on every media frame (a
recorder's progress), where an event per change would cost production code for a test.
Each caller says why it polls.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

__all__ = ["eventually"]

T = TypeVar("T")


@overload
async def eventually(
    probe: Callable[[], Awaitable[T]], within: float = ..., every: float = ...
) -> T: ...


@overload
async def eventually(probe: Callable[[], T], within: float = ..., every: float = ...) -> T: ...


async def eventually(
    probe: Callable[[], T | Awaitable[T]], within: float = 30.0, every: float = 0.05
) -> T:
    """Call ``probe()`` (a plain or an async function) every ``every`` seconds until it
    returns something truthy, and return that; TimeoutError after ``within`` seconds.

    A probe may raise to fail at once (an answer that retrying cannot fix)."""
    async with asyncio.timeout(within):
        while True:
            answer = probe()
            value = await answer if inspect.isawaitable(answer) else answer
            if value:
                return value
            await asyncio.sleep(every)
