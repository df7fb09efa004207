"""A participant's WebSocket connection to a room: connect with a token, read in the
background, wait (bounded) for what a test or a bot needs, and resume through 1001.

Everything received is kept in :attr:`RoomClient.messages` (and, until taken with
:meth:`RoomClient.next`, in the inbox), so a long-running bot should call
:meth:`RoomClient.forget` now and then.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from signaling.client.frames import (
    GOING_AWAY,
    TRY_AGAIN_LATER,
    Inbox,
    Message,
    SeqTracker,
    decode_frame,
    encode_message,
    matcher,
    room_url,
)
from signaling.protocol import Codec

__all__ = ["RoomClient"]

T = TypeVar("T")

#: The bound of every wait unless the caller gives one: only a failure waits this long.
WAIT = 30.0
#: A resume keeps trying this long: a balancer may pick the draining node for an instant.
RESUME_WITHIN = 60.0
RESUME_EVERY = 0.2
#: The close code recorded when the connection ended without a close frame.
ABNORMAL = 1006


class RoomClient:
    """One participant: ``await RoomClient(url, token).join()`` connects and waits for the
    welcome; :meth:`connect` only connects (the welcome, or a refusal's close, follows).

    State a caller may read: ``messages`` (every message, in order), ``welcomes``, ``chats``
    (chat ids with how often each arrived, so a duplicate shows), ``count`` and ``counts``
    (the room's head count as told), ``closes`` (every close code, resumes included),
    ``close_code`` (None while open or resuming), ``last_seq``.

    With ``auto_resume`` (the default) a close with 1001 reconnects with the last welcome's
    ``resume`` token and ``lastSeq``, as the browser client does; requests pending then are
    answered ``{"type": "lost"}``.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        codec: Codec = Codec.JSON,
        name: str = "",
        auto_resume: bool = True,
        resume_url: str | None = None,
        **ws_options: Any,
    ) -> None:
        self.url = url
        #: Where a resume connects (a load balancer's ``/ws``); default where it connected.
        self.resume_url = resume_url
        self.token = token
        self.codec = codec
        self.name = name
        self.auto_resume = auto_resume
        self.ws_options = ws_options
        self.ws: ClientConnection | None = None
        self.messages: list[Message] = []
        self.welcomes: list[Message] = []
        self.chats: Counter[str] = Counter()
        self.count: int | None = None
        self.counts: list[int] = []
        self.closes: list[int] = []
        self.close_code: int | None = None
        #: How the connection ended when it ended with a close frame (the server's reason).
        self.closed_by: ConnectionClosed | None = None
        #: An exception that stopped the reader (not a close): waits re-raise it.
        self.failure: BaseException | None = None
        self.inbox = Inbox()
        self._seq = SeqTracker()
        self._acks: dict[str, asyncio.Future[Message]] = {}
        self._rids = itertools.count(1)
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._resuming = False
        self._resume_deadline = 0.0

    # -- connecting ---------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        token: str | None = None,
        *,
        codec: Codec = Codec.JSON,
        name: str = "",
        auto_resume: bool = True,
        **ws_options: Any,
    ) -> RoomClient:
        """Open the connection and start reading; the welcome (or a refusal's close) follows.
        ``ws_options`` go to ``websockets.connect`` (``origin``, ``additional_headers``…).
        Raises what the handshake raises (``InvalidStatus`` for an HTTP refusal, OSError)."""
        client = cls(url, token, codec=codec, name=name, auto_resume=auto_resume, **ws_options)
        await client.open()
        return client

    async def join(self, url: str | None = None, within: float = WAIT) -> Message:
        """Connect (to ``url``, default the one given) and wait for the welcome, which it
        returns; closes and raises the server's ``ConnectionClosed`` when it refused the join
        (its ``rcvd.code`` says why)."""
        await self.open(url)
        count = len(self.welcomes)
        try:
            return await self.until(
                lambda c: c.welcomes[count] if len(c.welcomes) > count else None, within
            )
        except BaseException as exc:
            await self.close()
            if isinstance(exc, AssertionError) and self.closed_by is not None:
                raise self.closed_by from None
            raise

    async def open(self, url: str | None = None) -> None:
        """(Re)connect to ``url`` (default: the one given) and start reading."""
        if url is not None:
            self.url = url
        self.ws = await self._dial(room_url(self.url, self.token))
        self.close_code = None
        self.closed_by = None
        self._reader = asyncio.create_task(self._read(), name=f"room-client-{self.name}")

    async def _dial(self, url: str) -> ClientConnection:
        options: dict[str, Any] = {
            "subprotocols": [self.codec.subprotocol],
            "max_queue": None,
            "open_timeout": 60,
            **self.ws_options,
        }
        return await connect(url, **options)

    # -- reading ------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            while True:
                ws = self.ws
                assert ws is not None
                try:
                    frame = await ws.recv()
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd else ABNORMAL
                    self.closes.append(code)
                    self._lose_pending()
                    # 1013 while resuming: the balancer picked a node not ready yet; again.
                    retry = code == GOING_AWAY or (self._resuming and code == TRY_AGAIN_LATER)
                    if retry and self.auto_resume and self.welcomes:
                        self._changed.set()
                        await self._resume()
                        continue
                    self.closed_by = closed if closed.rcvd else None
                    self.close_code = code
                    return
                self.received(decode_frame(frame))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.failure = exc
            if self.close_code is None:
                self.close_code = ABNORMAL
        finally:
            self._changed.set()

    def received(self, messages: list[Message]) -> None:
        """Account for ``messages`` (one frame's); the reader calls it, a fake transport may."""
        self.messages.extend(messages)
        self.inbox.add(messages)
        for message in messages:
            self._on(message)
        self._changed.set()

    def _on(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "chat":
            self.chats[str(message.get("id"))] += 1
            seq = message.get("seq")
            if isinstance(seq, int):
                self._seq.seen(seq)
        elif kind == "welcome":
            self._resuming = False
            self.welcomes.append(message)
            self.count = message.get("count", self.count)
            if not message.get("resumed") and isinstance(message.get("seq"), int):
                self._seq.start(message["seq"])
        elif kind in ("presence", "count") and isinstance(message.get("count"), int):
            self.count = message["count"]
            self.counts.append(message["count"])
        elif kind in ("ack", "error"):
            future = self._acks.pop(str(message.get("rid")), None)
            if future is not None and not future.done():
                future.set_result(message)

    def _lose_pending(self) -> None:
        for future in self._acks.values():
            if not future.done():
                future.set_result({"type": "lost"})
        self._acks.clear()

    async def _resume(self) -> None:
        """Reconnect with the last welcome's resume token and ``lastSeq`` until a welcome
        comes (bounded); a refusal other than 1001/1013 ends the client."""
        url = room_url(
            self.resume_url or self.url,
            self.token,
            resume=str(self.welcomes[-1].get("resume")),
            last_seq=self.last_seq,
        )
        if not self._resuming:
            self._resuming = True
            self._resume_deadline = time.monotonic() + RESUME_WITHIN
        else:
            await asyncio.sleep(RESUME_EVERY)  # retry pacing, nothing to wait on
        while True:
            try:
                self.ws = await self._dial(url)
                return
            except OSError:
                if time.monotonic() > self._resume_deadline:
                    raise
            await asyncio.sleep(RESUME_EVERY)

    # -- waiting ------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.close_code is None and self.failure is None

    @property
    def last_seq(self) -> int:
        """The highest seq up to which this client holds every reliable message."""
        return self._seq.last

    def of(self, kind: str) -> list[Message]:
        """Every message of type ``kind`` received so far."""
        return [m for m in self.messages if m.get("type") == kind]

    def chat_ids(self) -> set[str]:
        return set(self.chats)

    async def until(self, predicate: Callable[[RoomClient], T | None], within: float = WAIT) -> T:
        """The first truthy ``predicate(self)``, re-checked after each frame; raises
        ``AssertionError`` if the client closes or fails first, TimeoutError after
        ``within`` seconds."""
        async with asyncio.timeout(within):
            while True:
                self._changed.clear()
                value = predicate(self)
                if value:
                    return value
                if self.failure is not None:
                    raise AssertionError(f"{self.name}: {self.failure!r}") from self.failure
                if self.close_code is not None:
                    raise AssertionError(f"{self.name} closed with {self.close_code}")
                await self._changed.wait()

    async def next(
        self, match: str | Callable[[Message], bool] | None = None, within: float = WAIT
    ) -> Message:
        """The next unread message of type ``match`` (or for which it holds), taken from the
        inbox; the ones it passes over stay there for a later call."""
        accept = matcher(match)
        return await self.until(lambda c: c.inbox.take(accept), within)

    async def welcome(self, within: float = WAIT) -> Message:
        """The first welcome; raises the server's ``ConnectionClosed`` if it refused."""
        try:
            return await self.until(lambda c: next(iter(c.welcomes), None), within)
        except AssertionError:
            if self.closed_by is not None:
                raise self.closed_by from None
            raise

    async def closed(self, within: float = WAIT) -> int:
        """Wait until the connection ends for good; its close code."""
        async with asyncio.timeout(within):
            while self.close_code is None:
                self._changed.clear()
                await self._changed.wait()
        return self.close_code

    def forget(self) -> None:
        """Drop the kept messages and the inbox (the counters stay)."""
        self.messages.clear()
        self.inbox.drain()

    # -- sending ------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Send one message as is; raises ``ConnectionClosed`` when the connection is gone."""
        await self.connection.send(encode_message(message, self.codec))

    async def send_raw(self, frame: str | bytes) -> None:
        """Send ``frame`` exactly as given (a malformed or oversized frame, in a test)."""
        await self.connection.send(frame)

    @property
    def connection(self) -> ClientConnection:
        """The WebSocket connection now (a resume replaces it); raises if never opened."""
        assert self.ws is not None, "not connected"
        return self.ws

    async def request(self, message: Message, within: float = WAIT) -> Message:
        """Send ``message`` with a fresh ``rid``; the ``ack`` or ``error`` for it, or
        ``{"type": "lost"}`` when the connection dropped first."""
        rid = f"{self.name or 'c'}-{next(self._rids)}"
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._acks[rid] = future
        try:
            await self.send({**message, "rid": rid})
            async with asyncio.timeout(within):
                return await future
        finally:
            self._acks.pop(rid, None)

    async def chat(self, text: str, within: float = WAIT) -> str | None:
        """Post a chat; its id once acked, None when the connection dropped before the ack
        (it may or may not have been posted). Raises ``AssertionError`` on an error reply."""
        try:
            reply = await self.request({"type": "chat", "text": text}, within)
        except (ConnectionClosed, TimeoutError):
            return None
        if reply["type"] == "lost":
            return None
        assert reply["type"] == "ack", reply
        return str(reply["id"])

    async def signal(self, to: str, kind: str, **fields: Any) -> None:
        """A WebRTC signal (``kind``: offer, answer, ice…) to participant ``to`` or ``"sfu"``,
        with its fields (``sdp``, ``candidate``, ``target``…); not acked."""
        await self.send({"type": "signal", "to": to, "kind": kind, **fields})

    async def leave(self) -> None:
        """Leave the room; the server closes the connection."""
        self.auto_resume = False
        with contextlib.suppress(ConnectionClosed):
            await self.send({"type": "leave"})

    async def close(self) -> None:
        """Close the connection and stop the reader (bounded; never raises)."""
        self.auto_resume = False
        if self.ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                async with asyncio.timeout(10):
                    await self._reader
