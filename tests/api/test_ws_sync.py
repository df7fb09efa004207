"""The lighter queue and flag uvicorn's WebSocket protocol gets (api/ws_sync.py)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from api.ws_sync import Flag, Inbox


async def test_the_inbox_is_fifo_and_wakes_a_waiting_getter() -> None:
    inbox: Inbox[int] = Inbox()
    assert inbox.empty()
    assert inbox.qsize() == 0
    getting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)  # the getter waits
    assert not getting.done()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert await getting == 1
    assert inbox.qsize() == 1
    assert inbox.get_nowait() == 2
    with pytest.raises(asyncio.QueueEmpty):
        inbox.get_nowait()


async def test_a_cancelled_getter_loses_nothing() -> None:
    inbox: Inbox[str] = Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    inbox.put_nowait("a")
    assert await second == "a"
    inbox.put_nowait("b")
    assert await inbox.get() == "b"


async def test_the_flag_sets_clears_and_wakes_its_waiters() -> None:
    flag = Flag()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True, True]
    assert await flag.wait()  # set: returns at once
    flag.clear()
    assert not flag.is_set()
    late = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not late.done()
    flag.set()
    assert await late
