"""The ``/ws`` endpoint: thin glue between Starlette's WebSocket and the hub.

Query parameters: ``token`` (a room token from ``POST /sessions/{id}/token``), and to resume
``resume`` (the token from your last ``welcome``) with ``lastSeq`` (the highest ``seq`` up to
which you hold every reliable message). Subprotocols: ``liveclass.v1.json`` (default) or
``liveclass.v1.msgpack``; a client offering only others is closed with 1002.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.websockets import WebSocket, WebSocketDisconnect

from signaling import close_codes
from signaling.connection import Connection
from signaling.hub import Hub
from signaling.protocol import Codec, encode, error_message

__all__ = ["StarletteTransport", "websocket_endpoint"]


class StarletteTransport:
    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def send(self, frame: str | bytes) -> None:
        if isinstance(frame, str):
            await self._ws.send_text(frame)
        else:
            await self._ws.send_bytes(frame)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)


async def websocket_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    offered = list(websocket.scope.get("subprotocols") or [])
    codec = Codec.negotiate(offered)
    if codec is None:
        await websocket.accept()
        await websocket.send_text(
            encode(
                error_message(
                    "unsupported_subprotocol",
                    "offer liveclass.v1.json or liveclass.v1.msgpack",
                ),
                Codec.JSON,
            )  # type: ignore[arg-type]
        )
        await websocket.close(close_codes.PROTOCOL_ERROR, "unsupported subprotocol")
        return
    await websocket.accept(subprotocol=codec.subprotocol if offered else None)
    settings = hub.settings
    conn = Connection(
        StarletteTransport(websocket),
        codec,
        max_frames=settings.outbox_frames,
        max_bytes=settings.outbox_bytes,
        close_timeout=settings.close_timeout,
    )
    params = websocket.query_params
    last_seq = params.get("lastSeq")
    try:
        admitted = await hub.join(
            conn,
            params.get("token"),
            resume=params.get("resume"),
            last_seq=int(last_seq) if last_seq and last_seq.isdigit() else None,
        )
        if not admitted:
            await conn.closed.wait()
            return
        reader = asyncio.get_running_loop().create_task(_read(websocket, hub, conn))
        conn.reader = reader
        await asyncio.wait({reader})
    finally:
        await hub.disconnected(conn)


async def _read(websocket: WebSocket, hub: Hub, conn: Connection) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while conn.is_open:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            frame = text if text is not None else message.get("bytes") or b""
            await hub.receive(conn, frame)
