"""One client connection: its transport, outbox, writer task and participant logic.

The hub appends frames with :meth:`Connection.push` (never waits) and ends a connection with
:meth:`Connection.close`, which flushes what is queued (unless the client is too slow), sends
the close frame within ``close_timeout`` seconds, and then stops the reader.

Two ways out. When the transport offers a :class:`~signaling.wire.RawWire` and the hub gave a
:class:`~signaling.flush.Flusher`, a push only marks the connection; once per event-loop
iteration the flusher writes every marked connection's queued messages as one frame, framed
once per distinct payload and written straight to the socket (no task switch, no await). Only
when the socket pushes back (its buffer is full), or to close, does the connection start its
writer task, the one thing that ever awaits the network for it. Without a wire (tests, other
servers) the writer task sends every frame through the transport, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any, Protocol

from rooms.futures import cancel_and_wait
from rooms.presence import PresenceEntry
from rooms.tokens import RoomGrant
from signaling import close_codes
from signaling.flush import Flusher
from signaling.outbox import Outbox
from signaling.participant import ParticipantLogic, State
from signaling.protocol import Codec, encode
from signaling.wire import RawWire

__all__ = ["Connection", "Transport"]

log = logging.getLogger("liveclass.hub")


class Transport(Protocol):
    """What the hub needs of a WebSocket (the Starlette glue, or a test fake)."""

    async def send(self, frame: str | bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


def _wire_of(transport: Transport) -> RawWire | None:
    """A transport may also offer ``wire``: the direct write path to its socket."""
    wire = getattr(transport, "wire", None)
    return wire if isinstance(wire, RawWire) else None


class Connection:
    def __init__(
        self,
        transport: Transport,
        codec: Codec,
        *,
        max_frames: int = 1024,
        max_bytes: int = 4 << 20,
        close_timeout: float = 5.0,
        flusher: Flusher | None = None,
    ) -> None:
        self.transport = transport
        self.codec = codec
        self.outbox = Outbox(codec, max_frames=max_frames, max_bytes=max_bytes)
        self.close_timeout = close_timeout
        # Its seat, set once admitted to a room; written only by :meth:`seat` and
        # :meth:`regrant` (read by everyone):
        self.session_id = ""
        self.entry: PresenceEntry | None = None
        self.grant: RoomGrant | None = None
        self.logic: ParticipantLogic | None = None
        self.resume_token = ""
        self.sees_roster = False
        # Closing:
        self.close_code: int | None = None
        self.close_reason = ""
        # Both events are made when first needed: an idle connection never needs them, and
        # each costs ~760 bytes (issue 18: memory per idle connection).
        self._closed = False
        self._closed_event: asyncio.Event | None = None
        #: The task reading this connection's frames, while it reads; ``reader_stopped`` once
        #: the connection cancelled it (the reader then ends its reading, nothing else).
        self.reader: asyncio.Task[Any] | None = None
        self.reader_stopped = False
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False
        self._sending = False  # the writer task is awaiting a send: flushes must wait
        wire = _wire_of(transport) if flusher is not None else None
        self._wire = wire
        # The socket's transport, for a fan-out's writes at once (see RawWire.socket_transport).
        self._direct = wire.socket_transport if wire is not None else None
        self._flusher = flusher if wire is not None else None
        self._flush_marked = False
        self._finisher: asyncio.Task[None] | None = None
        # Messages held back while the connection replays the log (resume).
        self._held: list[str | bytes] | None = None
        #: The reader is handling a frame (see :meth:`handling`): closing must not cut it.
        self._handling = 0

    @property
    def participant_id(self) -> str:
        return self.entry.participant_id if self.entry else ""

    @property
    def closed(self) -> asyncio.Event:
        """Set once the connection is closed and its writer done."""
        if self._closed_event is None:
            self._closed_event = asyncio.Event()
            if self._closed:
                self._closed_event.set()
        return self._closed_event

    def _mark_closed(self) -> None:
        self._closed = True
        if self._closed_event is not None:
            self._closed_event.set()

    def _wake_writer(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @property
    def is_open(self) -> bool:
        return self.close_code is None

    def seat(
        self,
        session_id: str,
        entry: PresenceEntry,
        grant: RoomGrant,
        logic: ParticipantLogic,
        resume_token: str,
    ) -> None:
        """Make this the connection of ``entry`` in ``session_id`` (it was admitted), with
        ``grant``'s permissions, ``logic`` deciding on its frames and ``resume_token`` to
        come back with. Hosts and hidden observers see the roster."""
        self.session_id = session_id
        self.entry = entry
        self.grant = grant
        self.sees_roster = grant.can_moderate or grant.hidden
        self.logic = logic
        self.resume_token = resume_token

    def regrant(self, grant: RoomGrant) -> None:
        """The connection's permissions are now ``grant`` (its logic follows)."""
        self.grant = grant
        if self.logic is not None:
            self.logic.update_grant(grant)

    def start(self) -> None:
        """Begin sending what is queued (and what comes)."""
        self._started = True
        if self._flusher is None:
            self._ensure_writer()
        elif self.outbox:
            self._kick()

    def _ensure_writer(self) -> None:
        if self._writer is None and not self._stopped:
            self._wake = asyncio.Event()
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(), name=f"ws-writer-{self.participant_id}"
            )

    def _kick(self) -> None:
        """Something was queued: have it sent."""
        if self._flusher is not None and self.close_code is None:
            if not self._flush_marked and self._started:
                self._flush_marked = True
                self._flusher.mark(self)
        else:
            self._wake_writer()

    def flush(self) -> None:
        """Write what is queued now, straight to the socket (the flusher calls this)."""
        self._flush_marked = False
        wire = self._wire
        if not self.outbox or wire is None:
            return
        assert self._flusher is not None
        if self._sending or self.close_code is not None or not wire.usable:
            self._hand_to_writer()
            return
        while self.outbox:  # one frame per take() (up to its size limit) until done
            if not wire.writable:
                self._hand_to_writer()
                return
            frame = self.outbox.take()
            assert frame is not None
            wire.write(self._flusher.frame(frame))

    def _hand_to_writer(self) -> None:
        """Back-pressure, closing or gone: the writer task sends the rest, in order."""
        self._ensure_writer()
        self._wake_writer()

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
        self._kick()
        return True

    def push(self, frame: str | bytes, size: int | None = None, data: bytes | None = None) -> bool:
        """Queue an encoded frame (``size``: its wire size, see :meth:`Outbox.push`). A full
        outbox closes the connection with 4008.

        ``data``: the frame as WebSocket bytes, given by a fan-out on a quiet hub
        (``Flusher.write_through``): written to the socket at once when nothing is queued here
        and the socket takes data, else the frame is queued as usual."""
        if self.close_code is not None:
            return False
        if self._held is not None:
            self._held.append(frame)
            return True
        transport = self._direct
        if (
            data is not None
            and transport is not None
            and self._started
            and not self._sending
            and not self.outbox.frames
            and not transport.is_closing()
            and not transport.get_write_buffer_size()
        ):
            try:
                transport.write(data)
                return True
            except Exception as exc:  # as in the flusher: one broken socket only
                log.debug("write to %s failed: %r", self.participant_id, exc)
                self.close(close_codes.GOING_AWAY, "send failed", flush=False)
                return False
        if not self.outbox.push(frame, size):
            self.close(close_codes.TOO_SLOW, "too slow", flush=False)
            return False
        self._kick()
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
        elif not self._started:
            self._finisher = asyncio.get_running_loop().create_task(self._finish())
        else:
            self._ensure_writer()
            self._wake_writer()

    async def _write_loop(self) -> None:
        wake = self._wake
        assert wake is not None
        try:
            while True:
                frame = self.outbox.take()
                if frame is None:
                    if self.close_code is not None:
                        break
                    wake.clear()
                    await wake.wait()
                    continue
                self._sending = True
                try:
                    await self.transport.send(frame)
                finally:
                    self._sending = False
        except asyncio.CancelledError:
            if self.close_code is None:
                raise
            return
        except Exception as exc:  # the peer is gone; the reader will notice
            log.debug("send to %s failed: %r", self.participant_id, exc)
            if self.close_code is None:
                self.close_code = close_codes.GOING_AWAY
            self._stop_reader()
            self._mark_closed()
            return
        await self._finish()

    async def _finish(self) -> None:
        code = self.close_code or close_codes.NORMAL
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(
                self.transport.close(code, self.close_reason), timeout=self.close_timeout
            )
        self._stop_reader()
        self._mark_closed()

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Around the handling of one received frame: a close meanwhile (the client hung
        up, a failed send) lets it finish instead of cancelling the reader inside it, so a
        request the server started (a leave's bookkeeping, a chat being stored) is never
        cut half-way. The reader stops after it (it reads only while open)."""
        self._handling += 1
        try:
            yield
        finally:
            self._handling -= 1

    def _stop_reader(self) -> None:
        if (
            self.reader is not None
            and self.reader is not asyncio.current_task()
            and not self._handling
            and not self.reader_stopped
        ):
            self.reader_stopped = True  # once: the reader takes back exactly one cancel
            self.reader.cancel()

    async def stop(self) -> None:
        """Cancel the writer (the connection is gone) and wait for it to end."""
        self._stopped = True
        self.outbox.clear()  # nobody will send it now
        if self.close_code is None:
            self.close_code = close_codes.GOING_AWAY
        if self._writer is not None and not self._writer.done():
            # Not "cancel; suppress(CancelledError): await": a heartbeat stopping replaced
            # connections while the hub stopped it swallowed its own cancellation and ran on,
            # and hub.stop() waited for it forever.
            await cancel_and_wait(self._writer)
        self._mark_closed()
