"""The reliability suites' client: the package's :class:`~signaling.client.RoomClient`, connected
to a URL that already holds its token, with no resume (these tests watch how a connection
ends)."""

from __future__ import annotations

import asyncio
from typing import Any

from signaling.client import RoomClient, decode_frame

__all__ = ["Client", "close_all", "decode_frame"]


class Client(RoomClient):
    @classmethod
    async def connect(  # type: ignore[override]
        cls, url: str, name: str = "", **ws_options: Any
    ) -> Client:
        client = cls(url, name=name, auto_resume=False, **ws_options)
        await client.open()
        return client


async def close_all(clients: list[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
