"""The Python floor: a minimal ``websockets`` room server using ``websockets.broadcast``.

Adapter protocol ("plain" dialect): connect to ``ws://host:port/?room=R&user=U``; the server
sends ``{"type":"welcome","participant":{"id":U},"seq":N,"resumed":false}``; a client's
``{"type":"chat","text":T}`` goes to everyone in the room (the sender included) as
``{"type":"chat","seq":N,"from":{"id":U},"text":T}``, one frame per recipient;
``{"type":"leave"}`` closes with 1000. Nothing else: no auth, no presence, no persistence.

usage: python -m bench.servers.ws_broadcast --port PORT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve

__all__ = ["main"]

rooms: dict[str, set[ServerConnection]] = {}
seqs: dict[str, int] = {}


async def handler(ws: ServerConnection) -> None:
    query = parse_qs(urlsplit(ws.request.path if ws.request else "/").query)
    room = query.get("room", ["room"])[0]
    user = query.get("user", [str(ws.id)])[0]
    members = rooms.setdefault(room, set())
    members.add(ws)
    try:
        welcome = {"type": "welcome", "participant": {"id": user}, "seq": seqs.get(room, 0)}
        await ws.send(json.dumps({**welcome, "resumed": False}, separators=(",", ":")))
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "chat":
                seq = seqs[room] = seqs.get(room, 0) + 1
                out = {"type": "chat", "seq": seq, "from": {"id": user}, "text": message["text"]}
                broadcast(members, json.dumps(out, separators=(",", ":")))
            elif kind == "leave":
                await ws.close(1000, "left")
                break
    finally:
        members.discard(ws)


async def serve_forever(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, compression=None, backlog=2048, max_size=1 << 20):
        print(f"READY {port}", flush=True)
        await stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve_forever(parser.parse_args().port))


if __name__ == "__main__":
    main()
