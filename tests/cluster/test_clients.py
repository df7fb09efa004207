"""The cross-node test client itself: a message that shares a frame with the welcome (a
resume's replay usually does) must reach the member, not be dropped with the frame. CI lost
three replayed chats this way once, and blamed the drain."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.server import ServerConnection, serve

from tests.cluster.clients import Member


async def test_a_chat_batched_with_the_welcome_reaches_the_member() -> None:
    sent = asyncio.Event()

    async def room(ws: ServerConnection) -> None:
        welcome = {"type": "welcome", "count": 1, "seq": 4, "resumed": False, "resume": "r"}
        chat = {"type": "chat", "id": "m5", "seq": 5, "text": "replayed"}
        await ws.send(json.dumps([welcome, chat]))
        sent.set()
        await ws.wait_closed()

    async with serve(room, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        member = Member("s1", "token", f"ws://127.0.0.1:{port}/ws")
        try:
            await member.join()
            await member.until(lambda m: m.chats["m5"] == 1, within=5)
            assert member.last_seq == 5
        finally:
            await member.close()
