"""One simulated participant: a ``websockets`` asyncio connection with a cheap receive path.

A client connects, waits for its ``welcome`` (the join latency is connect start to welcome),
then reads until the connection ends. For each frame it reads the clock once, finds the send
stamps of the chat messages in it (:func:`bench.frames.stamps`) and decodes the frame only if
it holds anything else. Healthy clients take each complete frame straight from the
connection's frame parser (:class:`signaling.client.FastConnection`), skipping the
per-message futures of ``recv()``: that halves the load generator's CPU per delivery. Slow
consumers use ``recv()`` (so unread frames push back on the server), have a tiny socket receive
buffer and read one frame per ``slow_interval``.

Closes it did not ask for are counted by close code; ``4008`` for a slow consumer is expected.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.frames import Dialect, Wire, stamps
from bench.plan import ClientSpec
from bench.recorder import Recorder, now_us
from signaling.client import FastConnection, room_url

__all__ = ["Client", "FastConnection"]

OPEN_TIMEOUT = 30.0
MAX_FRAME = 16 << 20
SLOW_RCVBUF = 4096


class Client:
    def __init__(
        self,
        spec: ClientSpec,
        wire: Wire,
        recorder: Recorder,
        *,
        slow_interval: float = 0.5,
        full_decode: bool = False,
    ) -> None:
        self.spec = spec
        self.wire = wire
        self.rec = recorder
        self.slow_interval = slow_interval
        self.full_decode = full_decode
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.welcomed = asyncio.Event()
        self.resume_token = ""
        self.seq: int | None = None
        self.resumed = False
        self.expect_close = False
        self._kind = "join"
        self._started = 0
        self._replies: set[asyncio.Task[None]] = set()

    @property
    def is_open(self) -> bool:
        return self.ws is not None and self.welcomed.is_set() and not self.expect_close

    async def join(self, kind: str = "join", within: float = OPEN_TIMEOUT) -> bool:
        """Connect (``kind``: join, rejoin or resume) and wait for the welcome."""
        self._kind = kind
        self.welcomed = asyncio.Event()
        self.expect_close = False
        url = self.spec.url
        if kind == "resume" and self.spec.resumable and self.resume_token:
            url = room_url(url, resume=self.resume_token, last_seq=self.seq)
        self._started = now_us()
        if kind == "join":
            self.rec.attempt(self._started)
        try:
            async with asyncio.timeout(within):
                self.ws = await self._connect(url)
                loop = asyncio.get_running_loop()
                self.reader = loop.create_task(self._read(self.ws))
                waiter = loop.create_task(self.welcomed.wait())
                try:
                    await asyncio.wait({self.reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
        except TimeoutError:
            self.rec.error(f"{kind}:timeout")
            await self.abort()
            return False
        except InvalidStatus as exc:
            self.rec.error(f"{kind}:http-{exc.response.status_code}")
            return False
        except (OSError, ConnectionClosed, Exception) as exc:
            self.rec.error(f"{kind}:{type(exc).__name__}")
            return False
        return self.welcomed.is_set()

    async def _connect(self, url: str) -> ClientConnection:
        options: dict[str, Any] = {
            "subprotocols": self.wire.subprotocols,
            "compression": None,
            "max_size": MAX_FRAME,
            "ping_interval": None,
            "close_timeout": 5,
            "open_timeout": OPEN_TIMEOUT,
            "max_queue": 16 if self.spec.slow else 4096,
            "create_connection": FastConnection,
        }
        if self.spec.slow:
            parts = urlsplit(url)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
            sock.setblocking(False)
            try:
                await asyncio.get_running_loop().sock_connect(
                    sock, (parts.hostname or "127.0.0.1", parts.port or 80)
                )
            except OSError:
                sock.close()
                raise
            options["sock"] = sock
        ws = await connect(url, **options)
        if isinstance(ws, FastConnection) and not self.spec.slow:
            ws.on_frame = self._on_frame
        return ws

    def _on_frame(self, frame: bytes) -> None:
        """One frame from the server (the hot path)."""
        received = now_us()
        rec = self.rec
        rec.frames += 1
        sent = stamps(frame)
        if sent:
            rec.latencies(self.spec.group, received, sent)
        if self.full_decode or not self.wire.only_chat(frame, len(sent)):
            rec.decoded += 1
            try:
                self._handle(self.wire.messages(frame), received)
            except Exception as exc:  # a frame we cannot read is a finding, not a crash
                rec.error(f"frame:{type(exc).__name__}")

    async def _read(self, ws: ClientConnection) -> None:
        """Reads what does not come through ``_on_frame`` (slow consumers, fragmented
        messages) until the connection ends, then accounts for how it ended."""
        slow = self.spec.slow
        recv = ws.recv
        try:
            while True:
                frame = await recv(decode=False)
                self._on_frame(frame if isinstance(frame, bytes) else frame.encode())
                if slow:
                    await asyncio.sleep(self.slow_interval)
        except ConnectionClosed:
            pass
        code = ws.close_code if ws.close_code is not None else 1006
        if not self.expect_close:
            expected = slow and code == 4008
            self.rec.closed(code, unexpected=not expected)

    def _handle(self, messages: list[dict[str, Any]], received: int) -> None:
        for message in messages:
            kind = message.get("type")
            if kind == "chat":
                self._sequence(message.get("seq"))
            elif kind == "welcome":
                self._welcome(message, received)
            elif kind == "error":
                self.rec.error(f"error:{message.get('code')}")
            elif kind == "_eio":
                self._engine_io(str(message.get("packet", "")))

    def _welcome(self, message: dict[str, Any], received: int) -> None:
        self.resume_token = str(message.get("resume") or "")
        resumed = bool(message.get("resumed"))
        if self._kind == "resume":
            self.rec.resume["resumed" if resumed else "not_resumed"] += 1
        if self.seq is None or not resumed:
            seq = message.get("seq")
            self.seq = seq if isinstance(seq, int) else None
        self.rec.joined(self._kind, self._started, received)
        self.welcomed.set()

    def _sequence(self, seq: Any) -> None:
        if not isinstance(seq, int):
            return
        if self.seq is not None:
            if seq <= self.seq:
                self.rec.seq["duplicate"] += 1
                return
            if seq > self.seq + 1:
                self.rec.seq["gap"] += seq - self.seq - 1
        self.seq = seq

    def _engine_io(self, packet: str) -> None:
        if packet == "2":  # Engine.IO ping: answer pong
            self._reply("3")
        elif packet.startswith("0"):  # Engine.IO open: connect to the default namespace
            self._reply("40")

    def _reply(self, frame: str) -> None:
        ws = self.ws
        if ws is None:
            return

        async def send() -> None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(frame)

        task = asyncio.get_running_loop().create_task(send())
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def send(self, frame: str | bytes) -> bool:
        ws = self.ws
        if ws is None or not self.is_open:
            return False
        try:
            await ws.send(frame)
        except ConnectionClosed:
            return False
        return True

    async def leave(self) -> None:
        """Leave the room (the protocol's ``leave``) and wait for the server to close."""
        ws = self.ws
        if ws is None:
            return
        self.expect_close = True
        with contextlib.suppress(ConnectionClosed):
            await ws.send(self.wire.leave())
        await self._wait_reader(5.0)
        await self.close()

    async def drop(self) -> None:
        """Lose the connection abruptly (no close frame): the server keeps the seat for a
        resume."""
        ws = self.ws
        if ws is None:
            return
        self.expect_close = True
        ws.transport.abort()
        await self._wait_reader(5.0)

    async def close(self) -> None:
        ws = self.ws
        if ws is None:
            return
        self.expect_close = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 5.0)
        await self._wait_reader(5.0)

    async def abort(self) -> None:
        if self.ws is not None:
            self.expect_close = True
            self.ws.transport.abort()
        await self._wait_reader(1.0)

    async def _wait_reader(self, within: float) -> None:
        reader = self.reader
        if reader is None or reader.done():
            return
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(reader), within)
        if not reader.done():
            reader.cancel()

    @property
    def dialect(self) -> Dialect:
        return self.wire.dialect
