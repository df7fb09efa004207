"""Connection limits with real sockets against the real server (``api.server.build_server``:
uvicorn with the app): slowloris, silent, idle keep-alive and stalled-body connections are
closed within the configured timeouts while an ordinary client is served; connections are
capped per address and in all; hostile WebSocket URLs are closed with their code.

The timeouts are settings: the tests use fractions of a second. Client sockets bind to other
loopback addresses (127.0.0.2, ...) to stand for other hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api.app import create_app
from api.server import build_server
from api.settings import Settings
from signaling.client import decode_frame
from signaling.protocol import Codec
from tests.conftest import JWT_SECRET, SECRET_KEY, bearer
from tests.waiting import eventually

TIMEOUT = 0.5  # header, body and keep-alive timeouts of the server under test
SLACK = 2.0  # how much later than its timeout a close may come on a loaded machine


@dataclass
class Node:
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def open(self, address: str = "127.0.0.1") -> Raw:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.port, local_addr=(address, 0)
        )
        return Raw(reader, writer, time.monotonic())


@dataclass
class Raw:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    opened: float

    async def closed_after(self, limit: float) -> tuple[float, bytes]:
        """Seconds from opening until the server closed the connection, and what it sent."""
        received = b""
        async with asyncio.timeout(limit):
            while chunk := await self.reader.read(65536):
                received += chunk
        return time.monotonic() - self.opened, received

    async def received_until(self, marker: bytes, limit: float) -> bytes:
        """What the server sent up to and including ``marker`` (TimeoutError if it never
        does, or closes first: IncompleteReadError)."""
        async with asyncio.timeout(limit):
            return await self.reader.readuntil(marker)

    async def still_open(self, wait: float) -> bool:
        try:
            async with asyncio.timeout(wait):
                return bool(await self.reader.read(1))
        except TimeoutError:
            return True

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
def make_node(
    sqlite_template: Path, tmp_path: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[Node]]:
    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Node]:
        shutil.copy(sqlite_template, tmp_path / "liveclass.db")
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'liveclass.db'}",
            "jwt_secret": JWT_SECRET,
            "secret_key": SECRET_KEY,
            "media_in_process": False,
            "http_header_timeout_seconds": TIMEOUT,
            "http_body_timeout_seconds": TIMEOUT,
            "http_keep_alive_seconds": TIMEOUT,
            **overrides,
        }
        settings = Settings(**values)
        server = build_server(create_app(settings), settings, host="127.0.0.1", port=0)
        serving = asyncio.create_task(server.serve())
        try:
            listening = asyncio.create_task(server.listening.wait())
            await asyncio.wait({listening, serving}, timeout=60, return_when="FIRST_COMPLETED")
            listening.cancel()
            assert server.listening.is_set(), "the server did not start"
            yield Node(server.servers[0].sockets[0].getsockname()[1])
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(30):
                    await serving

    return start


async def _close_code(url: str) -> int | None:
    """The code the server closes a new WebSocket with (after its error message)."""
    async with connect(url) as ws:
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
        return ws.close_code


def _no_errors(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


async def test_slow_and_idle_connections_are_closed_while_a_normal_client_is_served(
    make_node: Callable[..., contextlib.AbstractAsyncContextManager[Node]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with make_node() as node:
        slowloris = await node.open()
        silent = await node.open()
        keep_alive = await node.open()
        stalled = await node.open()

        async def trickle() -> None:
            """A request head one header line at a time, for ever (slowloris)."""
            slowloris.writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            with contextlib.suppress(OSError):
                for n in range(100):
                    await asyncio.sleep(TIMEOUT / 5)
                    slowloris.writer.write(b"X-%d: y\r\n" % n)
                    await slowloris.writer.drain()

        keep_alive.writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        stalled.writer.write(
            b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: " + bearer("t1", "instructor")["Authorization"].encode() + b"\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"title": "Alg'
        )
        trickling = asyncio.create_task(trickle())
        served = 0
        async with httpx.AsyncClient(base_url=node.http, timeout=10) as client:

            async def ordinary_client() -> None:
                nonlocal served
                while True:
                    assert (await client.get("/healthz")).status_code == 200
                    served += 1
                    await asyncio.sleep(0.05)

            serving = asyncio.create_task(ordinary_client())
            results = await asyncio.gather(
                *(c.closed_after(TIMEOUT + SLACK + 5) for c in (slowloris, silent, stalled)),
                keep_alive.closed_after(TIMEOUT + SLACK + 5),
            )
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
        trickling.cancel()
        (slow_s, slow_body), (silent_s, silent_body), (stalled_s, _), (idle_s, idle_body) = results
        for seconds in (slow_s, silent_s, stalled_s):
            assert TIMEOUT * 0.9 <= seconds <= TIMEOUT + SLACK, results
        assert slow_body.startswith(b"HTTP/1.1 408"), slow_body
        assert silent_body.startswith(b"HTTP/1.1 408"), silent_body
        # The keep-alive connection got its answer, then was closed for idling.
        assert idle_body.startswith(b"HTTP/1.1 200"), idle_body
        assert idle_s <= TIMEOUT + SLACK
        assert served >= 5
        for c in (slowloris, silent, keep_alive, stalled):
            c.close()
    _no_errors(caplog)
    assert any("went away mid-request" in r.getMessage() for r in caplog.records)


async def test_connections_are_capped_per_address_and_in_all(
    make_node: Callable[..., contextlib.AbstractAsyncContextManager[Node]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Per address: the connection over the cap is closed at once. In all: at the cap, an
    ordinary client still gets in, in place of the oldest connection without a request."""
    async with make_node(
        http_header_timeout_seconds=30, max_connections_per_ip=4, max_connections=8
    ) as node:
        first = [await node.open("127.0.0.2") for _ in range(4)]
        over = await node.open("127.0.0.2")
        seconds, _ = await over.closed_after(5)
        assert seconds < 1
        assert all(await asyncio.gather(*(c.still_open(0.05) for c in first)))
        second = [await node.open("127.0.0.3") for _ in range(4)]  # 8: the total cap
        async with httpx.AsyncClient(base_url=node.http, timeout=10) as client:
            assert (await client.get("/healthz")).status_code == 200
        evicted, _ = await first[0].closed_after(5)
        assert evicted < 5
        assert all(await asyncio.gather(*(c.still_open(0.05) for c in first[1:] + second)))
        for c in first + second:
            c.close()
        # A WebSocket gives its place back when it closes: six in a row from one address
        # with a cap of 4 (without a token each is closed with 4001 after the handshake).
        await asyncio.sleep(0.2)  # the closes above reach the server
        for _ in range(6):
            assert await _close_code(f"ws://127.0.0.1:{node.port}/ws") == 4001
    _no_errors(caplog)


async def test_hostile_urls_and_heads_get_their_codes(
    make_node: Callable[..., contextlib.AbstractAsyncContextManager[Node]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``/ws?lastSeq=<5,000 digits>`` is closed with 4400 before the token is read; a
    request head over the limit is 431; neither leaves a traceback in the log."""
    async with make_node(http_header_timeout_seconds=30) as node:
        for last_seq in ("9" * 5000, "-1", "1.5", "\u0661"):
            url = f"ws://127.0.0.1:{node.port}/ws?token=x&lastSeq={last_seq}"
            assert await _close_code(url) == 4400, last_seq
        big = await node.open()
        big.writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000)
        _, answer = await big.closed_after(5)
        assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
        big.close()
    _no_errors(caplog)


async def test_pipelined_requests_are_not_taken_for_slow_heads(
    make_node: Callable[..., contextlib.AbstractAsyncContextManager[Node]],
) -> None:
    """A request pipelined behind another, whose body takes longer than the header timeout
    (each gap shorter than the body timeout): answered, not cut off as a slow head."""
    body = b'{"title": "Pipelined"}'
    auth = bearer("t1", "instructor")["Authorization"].encode()
    async with make_node() as node:
        conn = await node.open()
        conn.writer.write(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: " + auth + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        for start in range(0, len(body), 8):  # 3 gaps of 0.25 s: 0.75 s in all
            await asyncio.sleep(TIMEOUT / 2)
            conn.writer.write(body[start : start + 8])
        answers = await conn.received_until(b"HTTP/1.1 201", TIMEOUT + SLACK + 10)
        assert answers.startswith(b"HTTP/1.1 200"), answers[:200]
        conn.close()


@pytest.mark.parametrize("trusted", [["127.0.0.1", "::1"], ["127.0.0.0/30"], []])
async def test_proxies_in_front_are_not_held_to_the_per_address_cap(
    make_node: Callable[..., contextlib.AbstractAsyncContextManager[Node]], trusted: list[str]
) -> None:
    """A trusted proxy carries many clients (and limits them itself): its connections are
    not capped per address; anyone else's are."""
    async with make_node(
        http_header_timeout_seconds=30, max_connections_per_ip=2, trusted_proxies=trusted
    ) as node:
        proxy = [await node.open("127.0.0.1") for _ in range(4)]
        other = [await node.open("127.0.0.5") for _ in range(3)]
        proxy_open = await asyncio.gather(*(c.still_open(0.1) for c in proxy))
        assert proxy_open == [True, True] + [bool(trusted)] * 2
        assert await asyncio.gather(*(c.still_open(0.1) for c in other)) == [True, True, False]
        for c in proxy + other:
            c.close()


def first_message(frame: str | bytes) -> dict[str, Any]:
    """The first message of a frame (the server batches: a welcome may share its frame with
    what follows it, such as a host's questions snapshot)."""
    return decode_frame(frame, Codec.JSON)[0]


async def test_an_idle_hub_connection_costs_one_task_and_keeps_no_handshake(
    make_node: Callable[..., contextlib.AbstractAsyncContextManager[Node]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What an idle class costs the server (issue 18: memory per idle connection): one task
    per connection (the server's own, which also reads), no reader or writer task of ours,
    no HTTP middleware frames held for the connection's life, and the server's copy of the
    handshake dropped once accepted. The close paths still work: a kicked connection's
    reader stops at once, and the log stays clean."""
    caplog.set_level(logging.INFO)
    students = 12
    teacher = bearer("teacher-1", "instructor")
    async with make_node() as node:
        async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
            created = await http.post(
                "/api/v1/sessions", json={"title": "Idle", "maxParticipants": 50}, headers=teacher
            )
            sid = created.json()["id"]
            assert (await http.post(f"/api/v1/sessions/{sid}/start", headers=teacher)).is_success
            tokens = []
            for i in range(students):
                answer = await http.post(
                    f"/api/v1/sessions/{sid}/token", headers=bearer(f"student-{i}")
                )
                tokens.append(answer.json()["token"])
        sockets = []
        gc.disable()  # what a reference cycle keeps stays until the end of the test
        try:
            for token in tokens:
                ws = await connect(f"ws://127.0.0.1:{node.port}/ws?token={token}")
                assert first_message(await ws.recv())["type"] == "welcome"
                sockets.append(ws)
            # The HTTP protocol each WebSocket was upgraded from is gone at once, not left in
            # a reference cycle for the cyclic GC (its parser referred back to it).
            ports = {ws.local_address[1] for ws in sockets}
            upgraded = [
                o
                for o in gc.get_objects()
                # type(), not isinstance(): the heap holds weak proxies, and isinstance()
                # on one whose object is gone raises ReferenceError
                if issubclass(type(o), HttpToolsProtocol)
                and (o.transport.get_extra_info("peername") or ("", 0))[1] in ports
            ]
            assert not upgraded, len(upgraded)
        finally:
            gc.enable()

        def server_side() -> dict[str, list[asyncio.Task[Any]]]:
            named: dict[str, list[asyncio.Task[Any]]] = {}
            for task in asyncio.all_tasks():
                named.setdefault(task.get_coro().__qualname__, []).append(task)  # type: ignore[union-attr]
            return named

        tasks = server_side()
        assert len(tasks.get("WebSocketsSansIOProtocol.run_asgi", [])) == students, sorted(tasks)
        assert not [name for name in tasks if name.endswith(("_read", "_write_loop"))], sorted(
            tasks
        )
        for task in tasks["WebSocketsSansIOProtocol.run_asgi"]:
            stack = [f.f_code.co_qualname for f in task.get_stack(limit=50)]
            assert not [s for s in stack if "Middleware" in s or "Router" in s], stack
        protocols = [
            task.get_coro().cr_frame.f_locals["self"]  # type: ignore[union-attr]
            for task in tasks["WebSocketsSansIOProtocol.run_asgi"]
        ]
        assert protocols
        assert all(p.request is None and p.response is None for p in protocols)
        for p in protocols:
            # Nothing of the handshake is kept: websockets' parser keeps its request in a
            # local, emptied; the scope keeps neither headers nor the query (the token).
            request = p.conn.parser.gi_frame.f_locals.get("request")
            assert request is None or (not request.headers and request.path == "/")
            assert p.scope["headers"] == []
            assert p.scope["query_string"] == b""
            # uvicorn's asyncio queue and event (four deques, ~3 KiB) are replaced.
            assert not [v for v in vars(p).values() if isinstance(v, asyncio.Queue | asyncio.Event)]

        # A kicked student's connection closes and its reading (this very task) ends.
        async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
            answer = await http.post(f"/api/v1/sessions/{sid}/token", headers=teacher)
        host = await connect(f"ws://127.0.0.1:{node.port}/ws?token={answer.json()['token']}")
        welcome = first_message(await host.recv())
        target = next(p["id"] for p in welcome["roster"] if p["role"] != "host")
        await host.send(json.dumps({"type": "kick", "target": target, "rid": "k"}))

        async def one_closed() -> bool:
            return sum(ws.close_code is not None for ws in sockets) == 1

        await eventually(one_closed, within=10)
        await eventually(
            lambda: (
                len(server_side().get("WebSocketsSansIOProtocol.run_asgi", [])) == students
            ),  # the host's in, one student out
            within=10,
        )
        for ws in [*sockets, host]:
            await ws.close()
    _no_errors(caplog)
