"""Issue 3's cross-node guarantees, over real sockets: two ``liveclass serve`` processes on
one real Redis and one real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.cluster.clients import live_session as cluster_live_session
from tests.cluster.clients import messages, next_of, room_token
from tests.conftest import bearer
from tests.integration.cluster import Node

CAPACITY = 150
CLIENTS = 300


@pytest.fixture
def node_env() -> dict[str, str]:
    return {
        "LIVECLASS_PRESENCE_TTL_SECONDS": "10",
        "LIVECLASS_HEARTBEAT_INTERVAL_SECONDS": "2",
        "LIVECLASS_SWEEP_INTERVAL_SECONDS": "1",
    }


async def live_session(http: httpx.AsyncClient, node: Node, capacity: int) -> str:
    """A started session of ``capacity`` seats on ``node``, created by ``teacher-1``."""
    return await cluster_live_session(http, node.http, bearer("teacher-1", "instructor"), capacity)


async def test_capacity_and_fan_out_across_two_nodes(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    async with httpx.AsyncClient(timeout=30) as http:
        sid = await live_session(http, a, CAPACITY)
        teacher_ws = await connect(
            f"{a.ws}?token={await room_token(http, a.http, sid, bearer('teacher-1', 'instructor'))}"
        )
        await next_of(teacher_ws, "welcome")
        tokens = await asyncio.gather(
            *(room_token(http, a.http, sid, bearer(f"student-{i}")) for i in range(CLIENTS))
        )

    admitted: list[tuple[ClientConnection, str]] = []
    refused: list[int] = []

    async def attempt(i: int, token: str) -> None:
        node = a if i % 2 == 0 else b
        ws = await connect(f"{node.ws}?token={token}", max_queue=None)
        try:
            welcome = await next_of(ws, "welcome", within=30)
            admitted.append((ws, node.name))
            assert welcome["room"]["capacity"] == CAPACITY
        except ConnectionClosed as closed:
            refused.append(closed.rcvd.code if closed.rcvd else -1)

    # A few join one by one first, so both nodes hold participants: in the storm, seats go
    # to whichever joins reach Redis first, and one node's burst can take all of them.
    for i in range(4):
        await attempt(i, tokens[i])
    await asyncio.gather(*(attempt(i, t) for i, t in enumerate(tokens) if i >= 4))
    try:
        assert len(admitted) == CAPACITY
        assert refused == [4009] * (CLIENTS - CAPACITY)
        assert {node for _, node in admitted} == {"node-a", "node-b"}

        await teacher_ws.send(json.dumps({"type": "chat", "text": "welcome all", "rid": "c1"}))
        ack = await next_of(teacher_ws, "ack")

        async def chats_of(ws: ClientConnection) -> list[str]:
            seen = []
            first = await next_of(ws, "chat", within=30)
            seen.append(first["id"])
            # Anything else already delivered: no duplicate of this message may follow.
            await ws.send(json.dumps({"type": "ping", "rid": "after"}))
            while True:
                for message in messages(await ws.recv()):
                    if message["type"] == "chat":
                        seen.append(message["id"])
                    if message["type"] == "pong":
                        return seen

        received = await asyncio.gather(*(chats_of(ws) for ws, _ in admitted))
        assert all(ids == [ack["id"]] for ids in received)
    finally:
        await asyncio.gather(*(ws.close() for ws, _ in admitted), return_exceptions=True)
        await teacher_ws.close()


async def test_a_killed_node_leaves_presence_within_15_seconds(
    two_nodes: tuple[Node, Node],
) -> None:
    a, b = two_nodes
    async with httpx.AsyncClient(timeout=30) as http:
        sid = await live_session(http, a, 50)
        teacher = bearer("teacher-1", "instructor")
        teacher_ws = await connect(f"{a.ws}?token={await room_token(http, a.http, sid, teacher)}")
        await next_of(teacher_ws, "welcome")
        students = [bearer(f"student-{i}") for i in range(10)]
        on_b = []
        for who in students:
            ws = await connect(f"{b.ws}?token={await room_token(http, a.http, sid, who)}")
            await next_of(ws, "welcome")
            on_b.append(ws)
        async with asyncio.timeout(20):
            while (await next_of(teacher_ws, "presence"))["count"] != 11:
                pass

        b.kill()
        killed_at = time.monotonic()
        async with asyncio.timeout(15):
            while True:
                presence = await next_of(teacher_ws, "presence", within=15)
                if presence["count"] == 1:
                    break
        gone_after = time.monotonic() - killed_at
        roster = await http.get(f"{a.http}/api/v1/sessions/{sid}/participants", headers=teacher)
        assert roster.json()["activeCount"] == 1
        print(f"killed node's participants gone after {gone_after:.1f} s")

        # They can rejoin on the surviving node.
        again = await connect(f"{a.ws}?token={await room_token(http, a.http, sid, students[0])}")
        welcome = await next_of(again, "welcome")
        assert welcome["count"] == 2
        await again.close()
        await teacher_ws.close()


async def test_a_drained_node_sends_1001_and_clients_resume_elsewhere(
    two_nodes: tuple[Node, Node],
) -> None:
    a, b = two_nodes
    async with httpx.AsyncClient(timeout=30) as http:
        sid = await live_session(http, a, 20)
        teacher = bearer("teacher-1", "instructor")
        student = bearer("student-1")
        teacher_ws = await connect(f"{a.ws}?token={await room_token(http, a.http, sid, teacher)}")
        await next_of(teacher_ws, "welcome")
        ws = await connect(f"{b.ws}?token={await room_token(http, a.http, sid, student)}")
        welcome = await next_of(ws, "welcome")
        await teacher_ws.send(json.dumps({"type": "chat", "text": "before"}))
        before = await next_of(ws, "chat")

        await b.stop()  # SIGTERM: a graceful shutdown
        with pytest.raises(ConnectionClosed) as closed:
            await next_of(ws, "never")
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001

        await teacher_ws.send(json.dumps({"type": "chat", "text": "while away"}))
        await next_of(teacher_ws, "chat")
        token = await room_token(http, a.http, sid, student)
        again = await connect(
            f"{a.ws}?token={token}&resume={welcome['resume']}&lastSeq={before['seq']}"
        )
        resumed = await next_of(again, "welcome")
        assert resumed["resumed"] is True
        assert resumed["participant"]["id"] == welcome["participant"]["id"]
        assert (await next_of(again, "chat"))["text"] == "while away"
        await again.close()
        await teacher_ws.close()
