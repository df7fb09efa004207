"""Room members for the cross-node tests: real WebSocket clients that, like the browser client,
resume (``resume`` + ``lastSeq``) through the load balancer when their node goes away (1001).

A :class:`Member` keeps every ``chat`` it received (by id, with a count, so a duplicate shows),
the close codes it was sent and the welcomes it got; :meth:`Member.chat` sends a message and
returns its id once acked. All waits are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import weakref
from collections import Counter, deque
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.waiting import eventually

__all__ = ["Member", "live_session", "messages", "next_of", "room_token", "take_unread"]

GOING_AWAY = 1001


def messages(frame: str | bytes) -> list[dict[str, Any]]:
    data = json.loads(frame)
    return data if isinstance(data, list) else [data]


#: Messages of a batched frame not read yet, per connection: the server may put several
#: messages in one frame (a welcome and the replay after it), and each must reach a later
#: ``next_of`` instead of being dropped with the frame.
_unread: weakref.WeakKeyDictionary[ClientConnection, deque[dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


async def next_of(ws: ClientConnection, kind: str, within: float = 30.0) -> dict[str, Any]:
    """The next message of type ``kind`` (the ones before it are passed over)."""
    unread = _unread.setdefault(ws, deque())
    async with asyncio.timeout(within):
        while True:
            while unread:
                message = unread.popleft()
                if message["type"] == kind:
                    return message
            unread.extend(messages(await ws.recv()))


def take_unread(ws: ClientConnection) -> list[dict[str, Any]]:
    """The messages :func:`next_of` read from ``ws`` but did not return (they came in the
    same frame as the one it was waiting for), removed; a reader taking over ``ws`` handles
    these first."""
    unread = _unread.pop(ws, None)
    return list(unread) if unread else []


async def room_token(http: httpx.AsyncClient, base: str, sid: str, who: dict[str, str]) -> str:
    response = await http.post(f"{base}/api/v1/sessions/{sid}/token", headers=who)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def live_session(
    http: httpx.AsyncClient, base: str, teacher: dict[str, str], capacity: int
) -> str:
    created = await http.post(
        f"{base}/api/v1/sessions",
        json={"title": "Cross-node class", "maxParticipants": capacity},
        headers=teacher,
    )
    assert created.status_code == 201, created.text
    sid = str(created.json()["id"])
    started = await http.post(f"{base}/api/v1/sessions/{sid}/start", headers=teacher)
    assert started.status_code == 200, started.text
    return sid


class Member:
    """One participant. ``url`` is where it connects (and resumes): the balancer's ``/ws``."""

    def __init__(self, name: str, token: str, url: str) -> None:
        self.name = name
        self._token = token
        self._url = url
        self.ws: ClientConnection | None = None
        self.welcomes: list[dict[str, Any]] = []
        self.closes: list[int] = []
        self.chats: Counter[str] = Counter()
        self.count: int | None = None
        #: Every count this member was told, in order.
        self.counts: list[int] = []
        self._seqs: set[int] = set()
        self._base_seq = 0
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._rids = itertools.count()
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.failure: BaseException | None = None
        self.closed_for_good = False

    @property
    def last_seq(self) -> int:
        """The highest seq up to which this member has every reliable message."""
        seq = self._base_seq
        while seq + 1 in self._seqs:
            seq += 1
        return seq

    async def join(self, url: str | None = None) -> dict[str, Any]:
        """Connect (to ``url``, default the balancer) and wait for ``welcome``; raises
        ConnectionClosed when refused."""
        ws = await connect(f"{url or self._url}?token={self._token}", max_queue=None)
        try:
            welcome = await next_of(ws, "welcome")
        except BaseException:
            await ws.close()
            raise
        self._welcomed(ws, welcome)
        self._reader = asyncio.create_task(self._read(), name=f"member-{self.name}")
        return welcome

    def _welcomed(self, ws: ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcomes.append(welcome)
        self.count = welcome["count"]
        if not welcome["resumed"]:
            self._base_seq = int(welcome["seq"])
        # What came in the welcome's frame (a resume's replay often does) is this member's too.
        for message in take_unread(ws):
            self._on(message)
        self._changed.set()

    async def _resume(self) -> None:
        last = self.welcomes[-1]
        url = f"{self._url}?token={self._token}&resume={last['resume']}&lastSeq={self.last_seq}"

        async def attempt() -> bool:
            try:
                ws = await connect(url, max_queue=None)
                self._welcomed(ws, await next_of(ws, "welcome"))
                return True
            except (OSError, ConnectionClosed) as exc:
                # The balancer (another process, which tells no one) may still pick the
                # draining node for an instant: retry, as the browser client does.
                if (
                    isinstance(exc, ConnectionClosed)
                    and exc.rcvd
                    and exc.rcvd.code not in (GOING_AWAY, 1013)
                ):
                    raise
                return False

        await eventually(attempt, within=60, every=0.2)

    async def _read(self) -> None:
        try:
            while True:
                assert self.ws is not None
                try:
                    frame = await self.ws.recv()
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd else -1
                    self.closes.append(code)
                    for future in self._acks.values():
                        if not future.done():
                            future.set_result({"type": "lost"})
                    self._acks.clear()
                    self._changed.set()
                    if code != GOING_AWAY:
                        self.closed_for_good = True
                        return
                    await self._resume()
                    continue
                for message in messages(frame):
                    self._on(message)
                self._changed.set()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.failure = exc
            self._changed.set()

    def _on(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "chat":
            self.chats[message["id"]] += 1
            self._seqs.add(int(message["seq"]))
        elif kind in ("presence", "count"):
            self.count = message["count"]
            self.counts.append(message["count"])
        elif kind in ("ack", "error") and message.get("rid") in self._acks:
            future = self._acks.pop(message["rid"])
            if not future.done():
                future.set_result(message)

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def chat(self, text: str, within: float = 30.0) -> str | None:
        """Send a chat; its id once acked, None when the connection dropped before the ack
        (the message may or may not have been posted, as for a real client)."""
        rid = f"{self.name}-{next(self._rids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[rid] = future
        try:
            await self.send({"type": "chat", "text": text, "rid": rid})
            async with asyncio.timeout(within):
                reply = await future
        except (ConnectionClosed, TimeoutError):
            self._acks.pop(rid, None)
            return None
        if reply["type"] == "lost":
            return None
        assert reply["type"] == "ack", reply
        return str(reply["id"])

    async def until(self, predicate: Any, within: float = 30.0) -> None:
        """Wait (bounded) until ``predicate(self)`` holds; raises if the reader failed."""
        async with asyncio.timeout(within):
            while not predicate(self):
                if self.failure is not None:
                    raise AssertionError(f"{self.name}: {self.failure!r}") from self.failure
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                async with asyncio.timeout(10):
                    await self._reader
        if self.ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await self.ws.close()
