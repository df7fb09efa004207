"""Running an :class:`api.server.DrainingServer` inside a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from api.server import DrainingServer


@contextlib.asynccontextmanager
async def listening(server: DrainingServer) -> AsyncIterator[asyncio.Task[None]]:
    """Start ``server`` and wait until it listens; yields its serving task (await it after
    setting ``should_exit``). Whatever happens, the task is cancelled and awaited at the end."""
    serving = asyncio.create_task(server.serve())
    try:
        started = asyncio.create_task(server.listening.wait())
        await asyncio.wait({started, serving}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        assert server.listening.is_set(), "the server did not start"
        yield serving
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            async with asyncio.timeout(10):
                await serving
