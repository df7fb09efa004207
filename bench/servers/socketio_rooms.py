"""The python-socketio baseline: Socket.IO rooms on an ASGI app under uvicorn (its default
WebSocket implementation), speaking the adapter protocol's "socketio" dialect.

Connect to ``/socket.io/?EIO=4&transport=websocket&room=R&user=U``; the server joins the
socket to room R and emits ``welcome``; a ``chat`` event ``{"type":"chat","text":T}`` is
emitted to the whole room as ``chat`` ``{"type":"chat","seq":N,"from":{"id":U},"text":T}``;
``leave`` disconnects.

usage: python -m bench.servers.socketio_rooms --port PORT
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from typing import Any
from urllib.parse import parse_qs

import socketio  # type: ignore[import-untyped]
import uvicorn

__all__ = ["create_app", "main"]


def create_app() -> Any:
    sio = socketio.AsyncServer(
        async_mode="asgi", transports=["websocket"], http_compression=False, cors_allowed_origins=[]
    )
    where: dict[str, tuple[str, str]] = {}
    seqs: dict[str, int] = {}

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        room = query.get("room", ["room"])[0]
        user = query.get("user", [sid])[0]
        where[sid] = (room, user)
        await sio.enter_room(sid, room)
        welcome = {"type": "welcome", "participant": {"id": user}, "seq": seqs.get(room, 0)}
        await sio.emit("welcome", {**welcome, "resumed": False}, to=sid)

    async def chat(sid: str, message: Any) -> None:
        room, user = where[sid]
        seq = seqs[room] = seqs.get(room, 0) + 1
        text = message.get("text", "") if isinstance(message, dict) else ""
        out = {"type": "chat", "seq": seq, "from": {"id": user}, "text": text}
        await sio.emit("chat", out, to=room)

    async def leave(sid: str, *args: Any) -> None:
        await sio.disconnect(sid)

    async def disconnect(sid: str, *args: Any) -> None:
        where.pop(sid, None)

    sio.on("connect", connect)
    sio.on("chat", chat)
    sio.on("leave", leave)
    sio.on("disconnect", disconnect)
    return socketio.ASGIApp(sio)


async def serve(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    config = uvicorn.Config(create_app(), log_level="info", ws_per_message_deflate=False)
    server = uvicorn.Server(config)
    print(f"READY {port}", flush=True)
    await server.serve(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
