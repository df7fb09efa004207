"""A WebSocket client for reliability tests: reads everything in the background, so a test
can wait for a condition on what arrived and see how the connection ended."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["Client", "decode_frame"]

T = TypeVar("T")
_rids = itertools.count(1)


def decode_frame(frame: str | bytes) -> list[dict[str, Any]]:
    data = json.loads(frame)
    return data if isinstance(data, list) else [data]


class Client:
    def __init__(self, ws: ClientConnection, name: str = "") -> None:
        self.ws = ws
        self.name = name
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, name: str = "", **kwargs: Any) -> Client:
        ws = await connect(url, open_timeout=60, max_queue=None, **kwargs)
        return cls(ws, name)

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.ws.recv()
                self.messages.extend(decode_frame(frame))
                self._changed.set()
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else 1006
        except Exception:
            self.close_code = 1006
        finally:
            if self.close_code is None:
                self.close_code = 1006
            self._changed.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    @property
    def is_open(self) -> bool:
        return self.close_code is None

    async def until(self, predicate: Callable[[Client], T | None], within: float = 30.0) -> T:
        """The first truthy value of ``predicate(self)``; fails if the connection closes first
        or ``within`` seconds pass."""
        async with asyncio.timeout(within):
            while True:
                self._changed.clear()
                value = predicate(self)
                if value:
                    return value
                if self.close_code is not None:
                    raise AssertionError(f"{self.name} closed with {self.close_code}")
                await self._changed.wait()

    async def closed(self, within: float = 30.0) -> int:
        """Wait until the server closes the connection; its close code."""
        async with asyncio.timeout(within):
            while self.close_code is None:
                self._changed.clear()
                if self.close_code is not None:
                    break
                await self._changed.wait()
        assert self.close_code is not None
        return self.close_code

    async def welcome(self, within: float = 60.0) -> dict[str, Any]:
        return await self.until(lambda c: next(iter(c.of("welcome")), None), within)

    async def request(self, message: dict[str, Any], within: float = 30.0) -> dict[str, Any]:
        """Send ``message`` with a fresh ``rid``; its ``ack`` or ``error``."""
        rid = f"r{next(_rids)}"
        await self.ws.send(json.dumps({**message, "rid": rid}))

        def answer(c: Client) -> dict[str, Any] | None:
            for m in c.messages:
                if m.get("rid") == rid and m.get("type") in ("ack", "error"):
                    return m
            return None

        return await self.until(answer, within)

    def chat_ids(self) -> set[str]:
        return {m["id"] for m in self.of("chat")}

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


async def close_all(clients: list[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
