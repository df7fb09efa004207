"""A direct write path to the WebSocket connection, under the ASGI ``send``.

Going through Starlette's ``WebSocket.send_text`` and the server's ASGI ``send`` costs tens of
microseconds per frame: wrappers, state checks, an awaited event, and the server frames and
encodes the payload again for every recipient. A room's fan-out sends the same bytes to
hundreds of connections, so the hub frames a payload once (server frames are never masked,
so the bytes are identical for everyone) and writes them straight to the socket's transport.

That needs the server's connection object. :func:`tap` (called by the app's front door,
``api/ws_door.py``, or by :class:`WireTap` as an outermost middleware) finds it behind the raw
``send`` callable and leaves a :class:`RawWire` in the scope's ``extensions`` under
:data:`WIRE_KEY`. Only uvicorn's sans-I/O ``websockets`` implementation
(what ``liveclass serve`` runs) without compression qualifies; under any other server the key
is absent and the hub uses the ordinary ASGI path. The control frames (close, ping, pong) and
the handshake still go through the server, which keeps its own state.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["WIRE_KEY", "RawWire", "WireTap", "tap", "ws_frame"]

WIRE_KEY = "liveclass.wire"

_SHORT = struct.Struct(">BBH")
_LONG = struct.Struct(">BBQ")


def ws_frame(payload: str | bytes) -> bytes:
    """One unmasked, final WebSocket data frame: text for ``str``, binary for ``bytes``."""
    if isinstance(payload, str):
        data = payload.encode()
        first = 0x81
    else:
        data = payload
        first = 0x82
    n = len(data)
    if n < 126:
        return bytes((first, n)) + data
    if n < 1 << 16:
        return _SHORT.pack(first, 126, n) + data
    return _LONG.pack(first, 127, n) + data


class RawWire:
    """Writes ready-made frames to one connection of uvicorn's sans-I/O WebSocket protocol."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    @classmethod
    def of(cls, send: Any) -> RawWire | None:
        """The wire behind a server's ``send`` callable, or None when it is not one we know."""
        protocol = getattr(send, "__self__", None)
        if protocol is None or not any(
            cls.__name__ == "WebSocketsSansIOProtocol" for cls in type(protocol).__mro__
        ):
            return None
        conn = getattr(protocol, "conn", None)
        if conn is None or getattr(conn, "extensions", None):  # compression frames differently
            return None
        if not all(hasattr(protocol, a) for a in ("transport", "writable", "close_sent")):
            return None
        return cls(protocol)

    @property
    def usable(self) -> bool:
        """Open for data frames: handshake done, no close sent, peer not gone."""
        p = self._protocol
        return (
            p.handshake_complete
            and not p.close_sent
            and not p.disconnected
            and not p.transport.is_closing()
        )

    @property
    def writable(self) -> bool:
        """The socket's buffer is below its high-water mark (no back-pressure)."""
        is_set: bool = self._protocol.writable.is_set()
        return is_set

    async def drain(self) -> None:
        """Wait until the socket's buffer drained below its low-water mark."""
        await self._protocol.writable.wait()

    def forget_handshake(self) -> None:
        """Drop the server's copies of the handshake's request and response (their headers)
        once the connection is accepted: uvicorn keeps both for the connection's life but
        reads them only while accepting (~3 KiB of an idle connection's ~35). The request
        is emptied in place too: websockets' parser generator keeps it in a local for the
        connection's life (another ~3 KiB: 20-odd header lists and the URL with its
        token)."""
        p = self._protocol
        if p.handshake_complete:
            for name in ("request", "response"):
                handshake = getattr(p, name, None)
                if handshake is None:
                    continue
                headers = getattr(handshake, "headers", None)
                if headers is not None and hasattr(headers, "clear"):
                    headers.clear()
                if name == "request" and isinstance(getattr(handshake, "path", None), str):
                    handshake.path = "/"
                setattr(p, name, None)

    def write(self, frame: bytes) -> None:
        """Write one or more ready-made frames (from :func:`ws_frame`)."""
        self._protocol.transport.write(frame)

    @property
    def socket_transport(self) -> asyncio.Transport:
        """The socket's transport, for a fan-out's writes at once (``Connection.push``): a
        ready-made frame may go there directly while the transport is not closing and holds
        nothing unsent (``get_write_buffer_size() == 0``).

        Those two checks of the transport stand for :attr:`usable` and :attr:`writable` on
        the fan-out's hot path, where each object a recipient's write touches costs (the
        protocol, its flags and its event: about a quarter of a 500-client fan-out, issue
        18). They say the same: every close uvicorn starts itself (the peer's close frame, a
        keepalive timeout, a frame it cannot parse) writes its close frame and closes the
        transport; a lost connection closes it; the close liveclass starts is sent after
        ``Connection.close``, which ends the writes at once first; and an empty buffer is
        below any high-water mark. A connection with something unsent has its frames queued
        (``Connection.push``), and the flusher writes them under the full checks."""
        transport: asyncio.Transport = self._protocol.transport  # uvicorn's, set at connect
        return transport


class WireTap:
    """ASGI middleware: puts the :class:`RawWire` of a WebSocket connection into its scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            tap(scope, send)
        await self.app(scope, receive, send)


def tap(scope: Scope, send: Send) -> None:
    """Put the :class:`RawWire` behind ``send`` into the WebSocket ``scope``'s extensions,
    when there is one. The scope is the connection's own (the server makes one per
    connection): it is changed in place, not copied, since a copy would live as long as the
    connection."""
    wire = RawWire.of(send)
    if wire is not None:
        extensions = scope.get("extensions")
        if extensions is None:
            scope["extensions"] = extensions = {}
        extensions[WIRE_KEY] = wire
