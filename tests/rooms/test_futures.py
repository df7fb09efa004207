"""Stopping a task without swallowing the caller's own cancellation (rooms/futures.py)."""

from __future__ import annotations

import asyncio

import pytest

from rooms.futures import cancel_and_wait
from signaling.connection import Connection
from signaling.protocol import Codec
from tests.signaling.harness import FakeTransport


class Lingering:
    """A task body that, once cancelled, goes on until released (as a slow cleanup does);
    ``cancelled`` is set when the cancellation reached it."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            self.cancelled.set()
            await self.release.wait()


async def test_a_cancelled_caller_is_not_kept_running_by_the_task_it_stops() -> None:
    """The hub's heartbeat stops connections; when the hub stops the heartbeat at that moment,
    the heartbeat must end (it used to swallow its own cancellation and loop forever)."""
    lingering = Lingering()
    inner = asyncio.ensure_future(lingering.run())
    await lingering.started.wait()
    stopping = asyncio.ensure_future(cancel_and_wait(inner))
    await lingering.cancelled.wait()  # the caller now waits for the task to end
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    lingering.release.set()
    await cancel_and_wait(inner)
    assert inner.done()


async def test_a_task_that_fails_is_stopped_and_its_error_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails() -> None:
        raise ValueError("broken")

    task = asyncio.ensure_future(fails())
    await asyncio.wait({task})
    await cancel_and_wait(task)
    assert "broken" in caplog.text


class StuckTransport(FakeTransport):
    """A send that never completes and, cancelled, lingers until released."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = Lingering()

    async def send(self, frame: str | bytes) -> None:
        await self.sending.run()


async def test_stopping_a_connection_lets_the_callers_cancellation_through() -> None:
    transport = StuckTransport()
    conn = Connection(transport, Codec.JSON)
    conn.start()
    conn.send({"type": "pong"})
    await transport.sending.started.wait()  # the writer is stuck in a send
    stopping = asyncio.ensure_future(conn.stop())
    await transport.sending.cancelled.wait()  # stop() waits for the writer to end
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    transport.sending.release.set()
    await conn.stop()
