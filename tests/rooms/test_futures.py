"""Stopping a task without swallowing the caller's own cancellation (rooms/futures.py)."""

from __future__ import annotations

import asyncio

import pytest

from rooms.futures import cancel_and_wait
from signaling.connection import Connection
from signaling.protocol import Codec
from tests.signaling.harness import FakeTransport


async def test_a_cancelled_caller_is_not_kept_running_by_the_task_it_stops() -> None:
    """The hub's heartbeat stops connections; when the hub stops the heartbeat at that moment,
    the heartbeat must end (it used to swallow its own cancellation and loop forever)."""
    stubborn_started = asyncio.Event()

    async def stubborn() -> None:
        stubborn_started.set()
        while True:  # swallows one cancellation, as a library inside a task may
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                await asyncio.sleep(0.05)
                return

    inner = asyncio.ensure_future(stubborn())
    await stubborn_started.wait()
    stopping = asyncio.ensure_future(cancel_and_wait(inner))
    await asyncio.sleep(0)  # the caller waits for the task to end
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    await cancel_and_wait(inner)
    assert inner.done()


async def test_a_task_that_fails_is_stopped_and_its_error_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails() -> None:
        raise ValueError("broken")

    task = asyncio.ensure_future(fails())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert "broken" in caplog.text


async def test_stopping_a_connection_lets_the_callers_cancellation_through() -> None:
    transport = FakeTransport()
    conn = Connection(transport, Codec.JSON)
    conn.start()
    transport.paused = True  # the writer is stuck in a send
    conn.send({"type": "pong"})
    await asyncio.sleep(0)
    stopping = asyncio.ensure_future(conn.stop())
    await asyncio.sleep(0)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
