"""The direct write path: frames built once, coalesced per loop iteration, in order under
back-pressure, and found under the real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
import uvicorn
import websockets
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from signaling import close_codes
from signaling.connection import Connection
from signaling.flush import Flusher
from signaling.local_room import LocalRoom, RoomInfo
from signaling.protocol import Codec, encode
from signaling.wire import WIRE_KEY, RawWire, WireTap, ws_frame


def _parse(data: bytes) -> list[Frame]:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
        else:  # pragma: no cover - a truncated frame
            raise AssertionError("incomplete frame")
    return frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_frames_parse_as_websocket_frames(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)
    (frame,) = _parse(ws_frame(text))
    assert frame.opcode is Opcode.TEXT
    assert frame.fin
    assert bytes(frame.data).decode() == text
    (frame,) = _parse(ws_frame(b"\x00" * size))
    assert frame.opcode is Opcode.BINARY
    assert frame.data == b"\x00" * size


class FakeSocket:
    """The parts of uvicorn's sans-I/O protocol that a RawWire touches."""

    handshake_complete = True
    close_sent = False
    disconnected = False

    def __init__(self) -> None:
        self.transport = self
        self.writable = asyncio.Event()
        self.writable.set()
        self.written: list[bytes] = []
        self.closing = False
        self.buffered = 0  # bytes the kernel has not taken yet (below the high-water mark)

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        # A socket that pushes back (``writable`` clear) has bytes buffered, as a real one.
        return self.buffered if self.writable.is_set() else 1 << 16

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def messages(self) -> list[Any]:
        out: list[Any] = []
        for data in self.written:
            for frame in _parse(data):
                decoded = json.loads(bytes(frame.data))
                out.extend(decoded if isinstance(decoded, list) else [decoded])
        return out


class WireTransport:
    def __init__(self, sock: FakeSocket) -> None:
        self.wire = RawWire(sock)
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def send(self, frame: str | bytes) -> None:
        await self.wire.drain()
        self.wire.write(ws_frame(frame))

    async def close(self, code: int, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result(code)


def _connection(flusher: Flusher) -> tuple[Connection, FakeSocket, WireTransport]:
    sock = FakeSocket()
    transport = WireTransport(sock)
    conn = Connection(transport, Codec.JSON, flusher=flusher)
    conn.start()
    return conn, sock, transport


async def _next_iteration() -> None:
    # The flusher runs via call_soon; a future resolved the same way comes after it.
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(done.set_result, None)
    await done


async def test_messages_queued_together_leave_as_one_frame() -> None:
    conn, sock, _ = _connection(Flusher())
    conn.send({"type": "count", "count": 1})
    conn.send({"type": "count", "count": 2})
    assert sock.written == []  # nothing is written while the fan-out is still running
    await _next_iteration()
    assert len(sock.written) == 1
    assert sock.messages() == [{"type": "count", "count": 1}, {"type": "count", "count": 2}]


async def test_a_broadcast_is_framed_once_for_every_connection() -> None:
    flusher = Flusher()
    conns = [_connection(flusher) for _ in range(3)]
    frame = encode({"type": "chat", "text": "hi"}, Codec.JSON)
    for conn, _, _ in conns:
        conn.push(frame)
    await _next_iteration()
    written = [sock.written for _, sock, _ in conns]
    assert all(len(w) == 1 for w in written)
    assert written[0][0] is written[1][0] is written[2][0]


async def test_back_pressure_hands_over_to_the_writer_in_order() -> None:
    conn, sock, _ = _connection(Flusher())
    sock.writable.clear()  # the socket's buffer is full
    for i in range(3):
        conn.send({"type": "count", "count": i})
    await _next_iteration()
    assert sock.written == []
    conn.send({"type": "count", "count": 3})
    sock.writable.set()
    while len(sock.messages()) < 4:
        await _next_iteration()
    assert [m["count"] for m in sock.messages()] == [0, 1, 2, 3]


async def test_close_sends_what_is_queued_first() -> None:
    conn, sock, transport = _connection(Flusher())
    conn.send({"type": "count", "count": 1})
    conn.close(4000, "replaced")
    assert await transport.closed == 4000
    assert sock.messages() == [{"type": "count", "count": 1}]


@pytest.mark.parametrize("deflate", [False, True])
async def test_wire_tap_finds_the_connection_under_uvicorn(deflate: bool) -> None:
    """Without compression the wire is there; with it (frames differ) the app must use send."""
    found: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()
        await send({"type": "websocket.accept"})
        wire = scope["extensions"].get(WIRE_KEY)
        found.set_result(wire is not None)
        if wire is not None:
            wire.write(ws_frame('{"n":1}') + ws_frame("x" * 70_000) + ws_frame(b"\x01"))
        else:
            await send({"type": "websocket.send", "text": '{"n":1}'})
            await send({"type": "websocket.send", "text": "x" * 70_000})
            await send({"type": "websocket.send", "bytes": b"\x01"})
        await send({"type": "websocket.close", "code": 1000})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        WireTap(app),
        ws="websockets-sansio",
        ws_per_message_deflate=deflate,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as client:
            received = [message async for message in client]
        assert await found is not deflate
        assert received == ['{"n":1}', "x" * 70_000, b"\x01"]
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def test_a_backlog_larger_than_one_write_is_all_sent() -> None:
    conn, sock, _ = _connection(Flusher())
    text = "x" * 1000
    for i in range(600):  # about 600 KB: more than one take() carries
        conn.send({"type": "chat", "seq": i, "text": text})
    await _next_iteration()
    assert len(sock.written) > 1
    assert [m["seq"] for m in sock.messages()] == list(range(600))


def _room(flusher: Flusher, n: int) -> tuple[LocalRoom, list[FakeSocket]]:
    info = RoomInfo("s1", "t1", "room", "Room", "live", 500, "class")
    room = LocalRoom(info, roster_limit=100, flusher=flusher)
    socks = []
    for i in range(n):
        conn, sock, _ = _connection(flusher)
        room.conns[f"p{i}"] = conn
        socks.append(sock)
    return room, socks


async def test_a_fan_out_on_a_quiet_hub_writes_to_idle_connections_at_once() -> None:
    flusher = Flusher()
    room, socks = _room(flusher, 3)
    assert room.fan_out({"type": "chat", "seq": 1, "text": "hi"}) == 3
    # Written during the fan-out, not at the end of the loop iteration; framed once.
    assert [len(sock.written) for sock in socks] == [1, 1, 1]
    assert socks[0].written[0] is socks[2].written[0]
    assert socks[0].messages() == [{"type": "chat", "seq": 1, "text": "hi"}]


async def test_fan_outs_close_together_are_queued_and_coalesced() -> None:
    flusher = Flusher(quiet=60.0)  # the second fan-out always comes "soon" after the first
    room, socks = _room(flusher, 2)
    room.fan_out({"type": "chat", "seq": 1})
    room.fan_out({"type": "chat", "seq": 2})
    room.fan_out({"type": "chat", "seq": 3})
    assert [len(sock.written) for sock in socks] == [1, 1]  # only the first went at once
    await _next_iteration()
    for sock in socks:
        assert len(sock.written) == 2  # the other two as one frame
        assert [m["seq"] for m in sock.messages()] == [1, 2, 3]


async def test_a_fan_out_while_a_flush_is_pending_keeps_each_connections_order() -> None:
    flusher = Flusher()
    room, socks = _room(flusher, 2)
    room.conns["p0"].send({"type": "ack", "rid": "r1"})  # queued: a flush is now pending
    room.fan_out({"type": "chat", "seq": 1})
    # p0 has something queued: the chat goes after it; p1 is idle: written at once.
    assert [len(sock.written) for sock in socks] == [0, 1]
    await _next_iteration()
    assert [m["type"] for m in socks[0].messages()] == ["ack", "chat"]
    assert [m["seq"] for m in socks[1].messages()] == [1]


async def test_a_fan_out_queues_for_a_socket_that_pushes_back() -> None:
    flusher = Flusher()
    room, socks = _room(flusher, 2)
    socks[1].writable.clear()
    room.fan_out({"type": "chat", "seq": 1})
    assert [len(sock.written) for sock in socks] == [1, 0]
    room.fan_out({"type": "chat", "seq": 2})
    socks[1].writable.set()
    while len(socks[1].messages()) < 2:
        await _next_iteration()
    assert [m["seq"] for m in socks[1].messages()] == [1, 2]
    assert [m["seq"] for m in socks[0].messages()] == [1, 2]


async def test_a_socket_with_bytes_unsent_gets_the_fan_out_after_them() -> None:
    """Below the high-water mark (still writable) but with bytes buffered: the frame is
    queued for the flusher, not written past the transport's own queue."""
    flusher = Flusher()
    room, socks = _room(flusher, 2)
    socks[1].buffered = 100
    room.fan_out({"type": "chat", "seq": 1})
    assert [len(sock.written) for sock in socks] == [1, 0]
    await _next_iteration()
    assert [m["seq"] for m in socks[1].messages()] == [1]


async def test_a_fan_out_writes_nothing_at_once_to_a_closing_transport() -> None:
    """uvicorn closes the transport with every close it starts itself (the peer's close
    frame, a keepalive timeout): no data frame is written after that close frame."""
    flusher = Flusher()
    room, socks = _room(flusher, 2)
    socks[1].closing = True
    room.fan_out({"type": "chat", "seq": 1})
    assert [len(sock.written) for sock in socks] == [1, 0]


async def test_a_write_that_fails_closes_only_that_connection() -> None:
    flusher = Flusher()
    room, socks = _room(flusher, 3)

    def broken(data: bytes) -> None:
        raise ConnectionResetError("peer gone")

    socks[1].write = broken  # type: ignore[method-assign]
    assert room.fan_out({"type": "chat", "seq": 1}) == 2
    assert room.conns["p1"].close_code == close_codes.GOING_AWAY
    assert room.conns["p0"].is_open
    assert room.conns["p2"].is_open
    assert [len(socks[i].written) for i in (0, 2)] == [1, 1]
