"""Driving hubs in-process: fake transports built on queues, clients that read messages (with
the package client's frame decoding and inbox, :mod:`signaling.client.frames`).

Two :class:`Hub` objects on one Redis (fakeredis server or the real one) and one database are
two nodes of one deployment: everything crosses the same bus it would in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from api.services import Services
from rooms.media_registry import MediaRegistry
from rooms.participation import RoomAdmitter
from rooms.room_log import RoomLog
from signaling.client import Inbox, decode_frame
from signaling.client.frames import matcher
from signaling.connection import Connection
from signaling.hub import Hub, HubSettings
from signaling.protocol import Codec, encode

if TYPE_CHECKING:  # tests/conftest.py imports this module
    from tests.conftest import People

# Generous: only a failing test waits this long, and a loaded machine is slow.
WAIT = 15.0

#: The shared chat limit out of the way, for a module whose tests chat fast on purpose (the
#: limit has its own tests, tests/signaling/test_chat_limit.py): ``pytestmark = fast_chat``.
#: tests/conftest.py's ``settings`` fixture reads the ``settings`` mark.
fast_chat = pytest.mark.settings(chat_rate_per_second=1000, chat_burst=1000)


class FakeTransport:
    """A WebSocket that records what the server sends. ``paused`` makes sends block, like a
    client that stopped reading."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.closed: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self.paused = False
        self._resume = asyncio.Event()

    async def send(self, frame: str | bytes) -> None:
        if self.paused:
            await self._resume.wait()
        await self.frames.put(frame)

    async def close(self, code: int, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result((code, reason))


@dataclass
class Client:
    hub: Hub
    conn: Connection
    transport: FakeTransport
    codec: Codec
    inbox: Inbox = field(default_factory=Inbox)
    #: The welcome it was seated with (set by :func:`join`).
    welcome: dict[str, Any] = field(default_factory=dict)

    async def send(self, message: dict[str, Any]) -> None:
        await self.hub.receive(self.conn, encode(message, self.codec))

    async def send_raw(self, frame: str | bytes) -> None:
        await self.hub.receive(self.conn, frame)

    def _unpack(self, frame: str | bytes) -> list[dict[str, Any]]:
        return decode_frame(frame, self.codec)

    async def _frame(self, within: float) -> str | bytes:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # races with a frame arriving, and a reader task would then never stop.
        async with asyncio.timeout(within):
            return await self.transport.frames.get()

    async def next(
        self, match: str | Callable[[dict[str, Any]], bool] | None = None, within: float = WAIT
    ) -> dict[str, Any]:
        """The next message of type ``match`` (or for which it holds), in arrival order; the
        ones passed over stay in the inbox. ``within`` bounds the wait for each frame."""
        accept = matcher(match)
        while True:
            message = self.inbox.take(accept)
            if message is not None:
                return message
            self.inbox.add(self._unpack(await self._frame(within)))

    async def until(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = WAIT
    ) -> dict[str, Any]:
        """The first message (in arrival order) for which ``predicate`` holds."""
        return await self.next(predicate, within)

    def drain_now(self) -> list[dict[str, Any]]:
        """Everything received so far, without waiting."""
        out = self.inbox.drain()
        while not self.transport.frames.empty():
            out.extend(self._unpack(self.transport.frames.get_nowait()))
        return out

    async def closed(self, within: float = WAIT) -> int:
        code, _ = await asyncio.wait_for(asyncio.shield(self.transport.closed), within)
        return code

    async def drop(self) -> None:
        """The network went away (no leave message)."""
        await self.hub.disconnected(self.conn)


async def reply(client: Client, rid: str) -> dict[str, Any]:
    """The ``ack`` or ``error`` answering request ``rid``."""
    return await client.until(lambda m: m["type"] in ("ack", "error") and m.get("rid") == rid)


def make_hub(services: Services, node_id: str, **overrides: Any) -> Hub:
    settings = HubSettings(
        **{
            "presence_tick": 0.02,
            "heartbeat_interval": 3600,
            "sweep_interval": 3600,
            **overrides,
        }
    )
    admitter = RoomAdmitter(services.database, services.presence, services.attendance)
    return Hub(
        node_id=node_id,
        database=services.database,
        presence=services.presence,
        admitter=admitter,
        attendance=services.attendance,
        chat=services.chat,
        sessions=services.sessions,
        room_log=RoomLog(services.redis),
        bus=services.new_bus(),
        tokens=services.room_tokens,
        settings=settings,
        clock=services.presence._clock,
        media=MediaRegistry(services.redis, clock=services.presence._clock),
    )


@asynccontextmanager
async def two_nodes(services: Services, **overrides: Any) -> AsyncIterator[tuple[Hub, Hub]]:
    """Two started hubs (``node-a``, ``node-b``) of one deployment, stopped afterwards."""
    a, b = make_hub(services, "node-a", **overrides), make_hub(services, "node-b", **overrides)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()


async def connect(
    hub: Hub,
    token: str | None,
    *,
    codec: Codec = Codec.JSON,
    resume: str | None = None,
    last_seq: int | None = None,
    **limits: Any,
) -> tuple[Client, bool]:
    transport = FakeTransport()
    conn = Connection(transport, codec, **limits)
    admitted = await hub.join(conn, token, resume=resume, last_seq=last_seq)
    return Client(hub, conn, transport, codec), admitted


async def room_token(client: httpx.AsyncClient, sid: str, who: dict[str, str]) -> str:
    """A room token for ``who`` (their auth headers), through the REST API."""
    response = await client.post(f"/api/v1/sessions/{sid}/token", headers=who)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def join(
    client: httpx.AsyncClient, hub: Hub, sid: str, who: dict[str, str], **kw: Any
) -> Client:
    """``who`` seated in session ``sid`` on ``hub``; the welcome is kept as ``.welcome``."""
    c, admitted = await connect(hub, await room_token(client, sid, who), **kw)
    if not admitted:
        raise AssertionError(await c.next("error"))
    welcome = await c.next("welcome")
    assert welcome["room"]["id"] == sid
    c.welcome = welcome
    return c


async def class_of_three(
    client: httpx.AsyncClient, nodes: tuple[Hub, Hub], sid: str, people: People
) -> tuple[Client, Client, Client]:
    """The teacher and student2 seated on the first node, student on the second, in that order."""
    a, b = nodes
    teacher = await join(client, a, sid, people.teacher)
    s1 = await join(client, b, sid, people.student)
    s2 = await join(client, a, sid, people.student2)
    return teacher, s1, s2
