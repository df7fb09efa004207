"""One client connection: its transport, outbox, writer task and participant logic.

The writer task is the only thing that ever awaits the network for this connection. The hub
appends frames with :meth:`Connection.push` (never waits) and ends a connection with
:meth:`Connection.close`, which flushes what is queued (unless the client is too slow), sends
the close frame within ``close_timeout`` seconds, and then stops the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from rooms.presence import PresenceEntry
from rooms.tokens import RoomGrant
from signaling import close_codes
from signaling.outbox import Outbox
from signaling.participant import ParticipantLogic, State
from signaling.protocol import Codec, encode

__all__ = ["Connection", "Transport"]

log = logging.getLogger("liveclass.hub")


class Transport(Protocol):
    """What the hub needs of a WebSocket (the Starlette glue, or a test fake)."""

    async def send(self, frame: str | bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class Connection:
    def __init__(
        self,
        transport: Transport,
        codec: Codec,
        *,
        max_frames: int = 1024,
        max_bytes: int = 4 << 20,
        close_timeout: float = 5.0,
    ) -> None:
        self.transport = transport
        self.codec = codec
        self.outbox = Outbox(codec, max_frames=max_frames, max_bytes=max_bytes)
        self.close_timeout = close_timeout
        # Set once admitted to a room:
        self.session_id = ""
        self.entry: PresenceEntry | None = None
        self.grant: RoomGrant | None = None
        self.logic: ParticipantLogic | None = None
        self.resume_token = ""
        self.sees_roster = False
        # Closing:
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self.reader: asyncio.Task[Any] | None = None
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._finisher: asyncio.Task[None] | None = None
        # Messages held back while the connection replays the log (resume).
        self._held: list[str | bytes] | None = None

    @property
    def participant_id(self) -> str:
        return self.entry.participant_id if self.entry else ""

    @property
    def is_open(self) -> bool:
        return self.close_code is None

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(
            self._write_loop(), name=f"ws-writer-{self.participant_id}"
        )

    def hold(self) -> None:
        """Hold live messages back (while the hub replays missed ones)."""
        self._held = []

    def release(self) -> None:
        """Send the held-back live messages after the replayed ones."""
        held, self._held = self._held or [], None
        for frame in held:
            self.push(frame)

    def send(self, message: dict[str, Any]) -> bool:
        """Encode ``message`` for this connection and queue it."""
        return self.push(encode(message, self.codec))

    def send_first(self, message: dict[str, Any]) -> bool:
        """Queue ``message`` even while live messages are held (replay, welcome)."""
        frame = encode(message, self.codec)
        if not self.is_open:
            return False
        if not self.outbox.push(frame):
            self.close(close_codes.TOO_SLOW, "too slow", flush=False)
            return False
        self._wake.set()
        return True

    def push(self, frame: str | bytes) -> bool:
        """Queue an encoded frame. A full outbox closes the connection with 4008."""
        if not self.is_open:
            return False
        if self._held is not None:
            self._held.append(frame)
            return True
        if not self.outbox.push(frame):
            self.close(close_codes.TOO_SLOW, "too slow", flush=False)
            return False
        self._wake.set()
        return True

    def close(self, code: int, reason: str, *, flush: bool = True) -> None:
        """End the connection with ``code``; idempotent. Without ``flush`` queued messages are
        dropped (the client is too slow to take them anyway)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        if self.logic is not None:
            self.logic.state = State.CLOSING
        if not flush:
            self.outbox.clear()
            if self._writer is not None:
                self._writer.cancel()
            self._finisher = asyncio.get_running_loop().create_task(self._finish())
        elif self._writer is None:
            self._finisher = asyncio.get_running_loop().create_task(self._finish())
        else:
            self._wake.set()

    async def _write_loop(self) -> None:
        try:
            while True:
                frame = self.outbox.take()
                if frame is None:
                    if self.close_code is not None:
                        break
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await self.transport.send(frame)
        except asyncio.CancelledError:
            if self.close_code is None:
                raise
            return
        except Exception as exc:  # the peer is gone; the reader will notice
            log.debug("send to %s failed: %r", self.participant_id, exc)
            if self.close_code is None:
                self.close_code = close_codes.GOING_AWAY
            self._stop_reader()
            self.closed.set()
            return
        await self._finish()

    async def _finish(self) -> None:
        code = self.close_code or close_codes.NORMAL
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(
                self.transport.close(code, self.close_reason), timeout=self.close_timeout
            )
        self._stop_reader()
        self.closed.set()

    def _stop_reader(self) -> None:
        if self.reader is not None and self.reader is not asyncio.current_task():
            self.reader.cancel()

    async def stop(self) -> None:
        """Cancel the writer (the connection is gone) and wait for it to end."""
        if self.close_code is None:
            self.close_code = close_codes.GOING_AWAY
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        self.closed.set()
