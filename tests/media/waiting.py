"""Waiting, bounded, for state that changes without an event to wait on (a recorder's
progress, a row's status behind the REST API)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(predicate: Callable[[], bool], within: float, every: float = 0.05) -> None:
    """Return once ``predicate()`` holds; TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            if predicate():
                return
            await asyncio.sleep(every)
