"""The ``/ws`` endpoint: thin glue between Starlette's WebSocket and the hub.

Query parameters: ``token`` (a room token from ``POST /sessions/{id}/token``), and to resume
``resume`` (the token from your last ``welcome``) with ``lastSeq`` (the highest ``seq`` up to
which you hold every reliable message; anything but up to 18 decimal digits is closed with
4400 before the token is looked at). Subprotocols: ``liveclass.v1.json`` (default) or
``liveclass.v1.msgpack``; a client offering only others is closed with 1002.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from signaling import close_codes
from signaling.connection import Connection
from signaling.hub import Hub
from signaling.log_context import connection_id, new_connection_id
from signaling.protocol import Codec, encode, error_message
from signaling.wire import WIRE_KEY, RawWire, ws_frame

__all__ = ["JOINED_KEY", "StarletteTransport", "parse_last_seq", "websocket_endpoint"]

log = logging.getLogger("liveclass.ws")

#: The scope's extension under which the server may give a callable (no arguments) to be
#: called whenever a join ends, admitted or not.
JOINED_KEY = "liveclass.joined"

_MAX_SEQ_DIGITS = 18  # below 2**63: a seq fits Redis's and PostgreSQL's 64-bit integers


class StarletteTransport:
    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        #: The direct write path (see ``signaling/wire.py``) when the server offers one.
        self.wire: RawWire | None = websocket.scope.get("extensions", {}).get(WIRE_KEY)

    async def send(self, frame: str | bytes) -> None:
        wire = self.wire
        if wire is not None:
            await wire.drain()
            if wire.usable:
                wire.write(ws_frame(frame))
                return
        if isinstance(frame, str):
            await self._ws.send_text(frame)
        else:
            await self._ws.send_bytes(frame)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)


async def websocket_endpoint(websocket: WebSocket) -> None:
    # Every log line of this connection carries its id (never the token in the URL).
    connection_id.set(new_connection_id())
    hub: Hub = websocket.app.state.hub
    offered = list(websocket.scope.get("subprotocols") or [])
    codec = Codec.negotiate(offered)
    if codec is None:
        await _refuse(
            websocket,
            None,
            close_codes.PROTOCOL_ERROR,
            "unsupported_subprotocol",
            "offer liveclass.v1.json or liveclass.v1.msgpack",
        )
        return
    subprotocol = codec.subprotocol if offered else None
    origin = websocket.headers.get("origin")
    allowed = hub.settings.allowed_origins
    if origin and allowed is not None and origin not in allowed:
        await _refuse(
            websocket,
            subprotocol,
            close_codes.FORBIDDEN,
            "origin_not_allowed",
            f"WebSockets from {origin} are not allowed",
        )
        return
    try:
        last_seq = parse_last_seq(websocket.query_params.get("lastSeq"))
    except ValueError as exc:
        await _refuse(websocket, subprotocol, close_codes.BAD_REQUEST, "invalid_request", str(exc))
        return
    address = websocket.client.host if websocket.client else ""
    if not hub.claim_address(address):
        await _refuse(
            websocket,
            subprotocol,
            close_codes.RATE_LIMITED,
            "too_many_connections",
            "too many connections from your address",
        )
        return
    try:
        await _serve(websocket, hub, codec, subprotocol, last_seq)
    finally:
        hub.release_address(address)


def parse_last_seq(value: str | None) -> int | None:
    """``lastSeq`` from the URL: absent, or a ``seq`` (decimal digits); ValueError otherwise
    (before the token is looked at: the connection is closed with 4400)."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_SEQ_DIGITS):
        raise ValueError(f"lastSeq must be a sequence number (at most {_MAX_SEQ_DIGITS} digits)")
    return int(value)


async def _refuse(
    websocket: WebSocket, subprotocol: str | None, code: int, reason: str, message: str
) -> None:
    await websocket.accept(subprotocol=subprotocol)
    frame = encode(error_message(reason, message), Codec.JSON)
    assert isinstance(frame, str)
    await websocket.send_text(frame)
    await websocket.close(code, reason)


async def _serve(
    websocket: WebSocket, hub: Hub, codec: Codec, subprotocol: str | None, last_seq: int | None
) -> None:
    await websocket.accept(subprotocol=subprotocol)
    transport = StarletteTransport(websocket)
    if transport.wire is not None:
        transport.wire.forget_handshake()
    settings = hub.settings
    conn = Connection(
        transport,
        codec,
        max_frames=settings.outbox_frames,
        max_bytes=settings.outbox_bytes,
        close_timeout=settings.close_timeout,
        flusher=hub.flusher,
    )

    async def receive() -> str | bytes | None:
        """A waiting client's next frame (signaling/waiting_room.py); None once gone."""
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    try:
        admitted = await hub.join(
            conn,
            websocket.query_params.get("token"),
            resume=websocket.query_params.get("resume"),
            last_seq=last_seq,
            receive=receive,
        )
        _joined(websocket)
        if not admitted:
            await conn.closed.wait()
            return
        _forget_request(websocket)
        log.info("websocket joined as participant %s", conn.participant_id)
        # This task reads: a reader task of its own would cost every idle connection ~2 KiB
        # (issue 18). The connection cancels its reader once it closes (kicked, replaced,
        # too slow); that cancellation ends the reading only, the bookkeeping below runs.
        task = asyncio.current_task()
        assert task is not None
        conn.reader = task
        try:
            await _read(websocket, hub, conn)
        except asyncio.CancelledError:
            if not conn.reader_stopped:
                raise
            task.uncancel()
        finally:
            conn.reader = None  # in the same step as the reading ends: no cancel after it
        if not conn.is_open:
            # We are closing it (kicked, too slow, rate limited): the close frame goes out
            # before the bookkeeping below stops the writer, or the client sees 1006.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(conn.close_timeout + 1):
                    await conn.closed.wait()
    finally:
        await hub.disconnected(conn)
        log.info("websocket closed")


def _joined(websocket: WebSocket) -> None:
    """Tell the server a join ended (admitted or not), when it asked to know: the
    callable under :data:`JOINED_KEY` in the scope's extensions (``api/ws_door.py`` trims
    the C heap once a burst of joins settles)."""
    joined = websocket.scope.get("extensions", {}).get(JOINED_KEY)
    if joined is not None:
        joined()


def _forget_request(websocket: WebSocket) -> None:
    """Once joined, drop what only the handshake and the join read: the request's headers
    and query string (with the room token) in the connection's scope, which the server keeps
    for the connection's life, and Starlette's parsed copies of them (~2 KiB of an idle
    connection, issue 18: memory per idle connection)."""
    scope = websocket.scope
    scope["headers"] = []
    scope["query_string"] = b""
    for cached in ("_headers", "_query_params", "_url"):
        websocket.__dict__.pop(cached, None)


async def _read(websocket: WebSocket, hub: Hub, conn: Connection) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while conn.is_open:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            frame = text if text is not None else message.get("bytes") or b""
            await hub.receive(conn, frame)
