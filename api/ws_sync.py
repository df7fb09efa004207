"""Lighter stand-ins for the asyncio queue and event uvicorn keeps per WebSocket connection.

uvicorn's sans-I/O WebSocket protocol gives every connection an ``asyncio.Queue`` (its
received events) and an ``asyncio.Event`` (``writable``, the back-pressure flag). Each
``collections.deque`` inside them costs ~760 bytes even when empty, and a queue holds four
(its items, getters, putters, and its ``finished`` event's waiters): about 3.8 KiB of every
idle connection for structures that hold nothing (issue 18: memory per idle connection).
:class:`Inbox` and :class:`Flag` do what uvicorn (and ``signaling/wire.py``) use of them with
a list and waiters made only while someone waits. ``api/connections.py`` puts them on each
WebSocket protocol it creates.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

__all__ = ["Flag", "Inbox"]

T = TypeVar("T")


class _Waiters:
    """Futures of the coroutines waiting on a structure, made only while someone waits."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    async def _wait(self) -> None:
        """Until :meth:`_wake_all` (or the caller's cancellation, which leaves no waiter)."""
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)

    def _wake_all(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)


class Inbox(_Waiters, Generic[T]):
    """An unbounded FIFO queue: what uvicorn uses of ``asyncio.Queue`` (``put_nowait``,
    ``get``, ``get_nowait``, ``empty``, ``qsize``). A getter cancelled while waiting loses
    nothing: items stay queued until a ``get`` returns them."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[T] = []

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        self._wake_all()

    async def get(self) -> T:
        while not self._items:
            await self._wait()
        return self._items.pop(0)

    def get_nowait(self) -> T:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class Flag(_Waiters):
    """What uvicorn uses of ``asyncio.Event``: ``set``, ``clear``, ``is_set``, ``wait``."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        super().__init__()
        self._value = False

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            self._wake_all()

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if not self._value:
            await self._wait()
        return True
