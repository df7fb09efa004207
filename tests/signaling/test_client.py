"""The package's client (signaling/client): frames, URLs and seqs without sockets, then a
RoomClient against a scripted WebSocket server: a batched welcome, acks by rid, and a resume
through 1001 that asks for exactly the gap."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

import msgpack
from websockets.asyncio.server import ServerConnection, serve

from signaling.client import Inbox, RoomClient, SeqTracker, decode_frame, room_url
from signaling.protocol import Codec


def test_a_batched_frame_is_every_message_in_either_codec() -> None:
    batch = [{"type": "welcome"}, {"type": "chat", "seq": 1}]
    assert decode_frame(json.dumps(batch)) == batch
    assert decode_frame(msgpack.packb(batch)) == batch
    assert decode_frame(json.dumps(batch[0]).encode(), Codec.JSON) == [batch[0]]


def test_room_url_keeps_the_query_and_adds_the_resume() -> None:
    assert room_url("ws://h/ws", "t") == "ws://h/ws?token=t"
    url = room_url("ws://h/ws?token=t", resume="r+1", last_seq=7)
    assert parse_qs(urlsplit(url).query) == {"token": ["t"], "resume": ["r+1"], "lastSeq": ["7"]}


def test_last_seq_waits_for_the_gap_to_close() -> None:
    seqs = SeqTracker()
    seqs.start(4)
    seqs.seen(6)
    assert seqs.last == 4
    seqs.seen(5)
    assert seqs.last == 6


def test_the_inbox_keeps_what_a_take_passes_over() -> None:
    inbox = Inbox()
    inbox.add([{"type": "a"}, {"type": "b"}, {"type": "a", "n": 2}])
    assert inbox.take(lambda m: m["type"] == "b") == {"type": "b"}
    assert inbox.drain() == [{"type": "a"}, {"type": "a", "n": 2}]


async def test_room_client_acks_and_resumes_with_the_gap_through_1001() -> None:
    resumes: list[dict[str, list[str]]] = []
    first = asyncio.Event()

    async def room(ws: ServerConnection) -> None:
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        welcome = {"type": "welcome", "count": 1, "seq": 4, "resumed": "resume" in query}
        if "resume" not in query:
            chat = {"type": "chat", "id": "m5", "seq": 5, "text": "in the welcome's frame"}
            await ws.send(json.dumps([{**welcome, "resume": "r1"}, chat]))
            request = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "ack", "rid": request["rid"], "id": "m6"}))
            first.set()
            await ws.close(1001, "draining")
            return
        resumes.append(query)
        await ws.send(json.dumps([{**welcome, "resume": "r2"}, {"type": "count", "count": 2}]))
        await ws.wait_closed()

    async with serve(room, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = RoomClient(f"ws://127.0.0.1:{port}/ws", "tok", name="bot")
        try:
            await client.join(within=5)
            assert client.chats["m5"] == 1
            assert await client.chat("hi", within=5) == "m6"
            await client.until(lambda c: len(c.welcomes) == 2, within=10)
            assert client.closes == [1001]
            assert client.is_open
            assert resumes == [{"token": ["tok"], "resume": ["r1"], "lastSeq": ["5"]}]
            assert client.count == 2
        finally:
            await client.close()
