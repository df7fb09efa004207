"""What one chat message's fan-out costs this process per recipient: ``conn.push`` for every
connection of a room, then the flusher writing each one's frame straight to its socket.

    .venv/bin/python -m bench.fanout_cost [--clients 500] [--messages 200] [--rounds 3]

Each connection is a real TCP socket on the loopback (its server end a uvloop transport, the
other end drained by a reader thread, so the write is the same ``send`` a client's socket gets)
behind a :class:`~signaling.wire.RawWire`, as under ``liveclass serve``. Two figures per round,
on the main thread's CPU clock: ``push`` (the fan-out loop queueing the frame for everyone)
and ``flush`` (the flusher's writes, system call included). Messages go one per loop
iteration, as chat messages arrive at 20 messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import threading
import time
from typing import Any

import uvloop

from signaling.connection import Connection
from signaling.flush import Flusher
from signaling.protocol import Codec, encode
from signaling.wire import RawWire

__all__ = ["main", "measure"]


class _Protocol(asyncio.Protocol):
    """The parts of uvicorn's sans-I/O WebSocket protocol a RawWire touches."""

    handshake_complete = True
    close_sent = False
    disconnected = False

    def __init__(self) -> None:
        self.transport: Any = None
        self.writable = asyncio.Event()
        self.writable.set()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport


class _Transport:
    def __init__(self, protocol: _Protocol) -> None:
        self.wire = RawWire(protocol)

    async def send(self, frame: str | bytes) -> None:
        raise AssertionError("the writer task is not expected here")

    async def close(self, code: int, reason: str) -> None:
        pass


def _drain(socks: list[socket.socket], stop: threading.Event) -> None:
    import selectors

    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    while not stop.is_set():
        for key, _ in sel.select(0.05):
            with contextlib.suppress(BlockingIOError):
                key.fileobj.recv(1 << 20)  # type: ignore[union-attr]


async def measure(clients: int, messages: int) -> tuple[float, float]:
    """µs of main-thread CPU per recipient: (push, flush)."""
    loop = asyncio.get_running_loop()
    flusher = Flusher()
    conns: list[Connection] = []
    peers: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0))
    for _ in range(clients):
        theirs = socket.create_connection(listener.getsockname())
        mine, _ = listener.accept()
        mine.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        protocol = _Protocol()
        await loop.connect_accepted_socket(lambda p=protocol: p, mine)  # type: ignore[misc]
        conn = Connection(_Transport(protocol), Codec.JSON, flusher=flusher)
        conn.start()
        conns.append(conn)
        peers.append(theirs)
    listener.close()
    stop = threading.Event()
    reader = threading.Thread(target=_drain, args=(peers, stop), daemon=True)
    reader.start()
    push = flush = 0.0
    try:
        for i in range(messages):
            message = {"type": "chat", "seq": i, "from": "u1", "text": "x" * 48}
            t0 = time.thread_time()
            frame = encode(message, Codec.JSON)
            for conn in conns:
                conn.push(frame)
            t1 = time.thread_time()
            await asyncio.sleep(0)  # the flusher runs here (call_soon)
            t2 = time.thread_time()
            push += t1 - t0
            flush += t2 - t1
            await asyncio.sleep(0.002)  # let the reader thread keep up
    finally:
        stop.set()
        reader.join()
        for conn in conns:
            await conn.stop()
        for s in peers:
            s.close()
    n = clients * messages
    return push * 1e6 / n, flush * 1e6 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pushes: list[float] = []
    flushes: list[float] = []
    for _ in range(args.rounds):
        push, flush = uvloop.run(measure(args.clients, args.messages))
        pushes.append(push)
        flushes.append(flush)
    print(
        f"µs CPU per recipient: push {statistics.median(pushes):.2f} "
        f"(rounds {', '.join(f'{v:.2f}' for v in pushes)}), flush "
        f"{statistics.median(flushes):.2f} (rounds {', '.join(f'{v:.2f}' for v in flushes)})"
    )


if __name__ == "__main__":
    main()
