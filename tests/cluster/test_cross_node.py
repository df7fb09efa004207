"""Issue 8, acceptance 1: the cross-node guarantees against the production topology (3 nodes
behind nginx, a 3-master Redis Cluster, PostgreSQL, 2 media workers): capacity, chat fan-out,
resume, kick and a killed node, with one room spread over every node."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rooms.presence import RedisPresence
from rooms.redis_client import close_redis, connect_redis
from tests.cluster.clients import Member, live_session, next_of, room_token
from tests.cluster.topology import NODES, Topology
from tests.conftest import bearer

pytestmark = pytest.mark.xdist_group("topology")

TEACHER = bearer("teacher-1", "instructor")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def nodes_of(cluster: Topology, sid: str) -> dict[str, int]:
    """How many of the room's participants each node holds (from Redis Cluster itself)."""
    redis = connect_redis(cluster.redis_url, cluster=True)
    try:
        snapshot = await RedisPresence(redis).snapshot(sid)
    finally:
        await close_redis(redis)
    held: dict[str, int] = {}
    for entry in snapshot.entries:
        held[entry.node] = held.get(entry.node, 0) + 1
    return held


def node_url(cluster: Topology, i: int) -> str:
    """Member ``i``'s node, round-robin: every node holds a third of the room."""
    return cluster.node_ws(1 + i % NODES)


async def close_all(members: list[Member]) -> None:
    await asyncio.gather(*(m.close() for m in members), return_exceptions=True)


async def test_capacity_is_exact_across_nodes(cluster: Topology, http: httpx.AsyncClient) -> None:
    sid = await live_session(http, cluster.lb, TEACHER, capacity=50)
    tokens = await asyncio.gather(
        *(room_token(http, cluster.lb, sid, bearer(f"student-{i}")) for i in range(100))
    )
    admitted: list[Member] = []
    refused: list[int] = []

    async def attempt(i: int, token: str) -> None:
        member = Member(f"s{i}", token, cluster.lb_ws)
        try:
            await member.join()
            admitted.append(member)
        except ConnectionClosed as closed:
            refused.append(closed.rcvd.code if closed.rcvd else -1)

    try:
        # Three join one by one first (least_conn puts one on each node), then the storm: in
        # a storm seats go to whichever admissions reach Redis first, which may all come
        # through one node.
        for i in range(NODES):
            await attempt(i, tokens[i])
        await asyncio.gather(*(attempt(i, t) for i, t in enumerate(tokens) if i >= NODES))
        assert len(admitted) == 50
        assert refused == [4009] * 50
        held = await nodes_of(cluster, sid)
        assert sum(held.values()) == 50
        assert len(held) == NODES, held  # one room, on every node
        room = await http.get(f"{cluster.lb}/api/v1/sessions/{sid}/participants", headers=TEACHER)
        assert room.json()["activeCount"] == 50
        assert room.json()["isFull"] is True
    finally:
        await close_all(admitted)


async def test_chat_reaches_everyone_on_every_node_exactly_once(
    cluster: Topology, http: httpx.AsyncClient
) -> None:
    sid = await live_session(http, cluster.lb, TEACHER, capacity=60)
    members = [
        Member(f"s{i}", await room_token(http, cluster.lb, sid, bearer(f"student-{i}")), "")
        for i in range(60)
    ]
    teacher = Member("teacher", await room_token(http, cluster.lb, sid, TEACHER), "")
    try:
        # Pinned round-robin to the nodes, so every node holds a third of the room.
        await teacher.join(cluster.node_ws(1))
        await asyncio.gather(*(m.join(node_url(cluster, i)) for i, m in enumerate(members)))
        assert set((await nodes_of(cluster, sid)).values()) == {20, 21}
        sent = [await members[i].chat(f"hello from node {1 + i % NODES}") for i in range(NODES)]
        sent.append(await teacher.chat("hello from the teacher"))
        assert None not in sent
        ids = [i for i in sent if i is not None]
        everyone = [teacher, *members]
        await asyncio.gather(*(m.until(lambda m: all(m.chats[i] for i in ids)) for m in everyone))
        # A ping round trip after the last chat: any duplicate would have arrived before it.
        for m in everyone:
            await m.send({"type": "ping", "ts": 1})
        barrier = await teacher.chat("barrier")
        assert barrier is not None
        await asyncio.gather(*(m.until(lambda m: m.chats[barrier] > 0) for m in everyone))
        for m in everyone:
            assert {i: m.chats[i] for i in ids} == dict.fromkeys(ids, 1), m.name
            assert m.chats[barrier] == 1
    finally:
        await close_all([teacher, *members])


async def test_resume_on_another_node_keeps_identity_and_chat(
    cluster: Topology, http: httpx.AsyncClient
) -> None:
    sid = await live_session(http, cluster.lb, TEACHER, capacity=10)
    token = await room_token(http, cluster.lb, sid, bearer("student-1"))
    teacher = Member("teacher", await room_token(http, cluster.lb, sid, TEACHER), "")
    try:
        await teacher.join(cluster.node_ws(1))
        async with connect(f"{cluster.node_ws(2)}?token={token}") as ws:
            welcome = await next_of(ws, "welcome")
            first = await teacher.chat("before")
            assert first is not None
            before = await next_of(ws, "chat")
        # Dropped (not left): the seat waits for a resume. Meanwhile the class goes on.
        missed = await teacher.chat("while away")
        resume = f"resume={welcome['resume']}&lastSeq={before['seq']}"
        async with connect(f"{cluster.node_ws(3)}?token={token}&{resume}") as ws:
            again = await next_of(ws, "welcome")
            assert again["resumed"] is True
            assert again["participant"]["id"] == welcome["participant"]["id"]
            replayed = await next_of(ws, "chat")
            assert (replayed["id"], replayed["text"]) == (missed, "while away")
            assert await nodes_of(cluster, sid) == {"node-1": 1, "node-3": 1}
    finally:
        await teacher.close()


async def test_a_kick_holds_across_nodes(cluster: Topology, http: httpx.AsyncClient) -> None:
    sid = await live_session(http, cluster.lb, TEACHER, capacity=10)
    student = bearer("student-kicked")
    teacher = Member("teacher", await room_token(http, cluster.lb, sid, TEACHER), "")
    try:
        await teacher.join(cluster.node_ws(1))
        token = await room_token(http, cluster.lb, sid, student)
        async with connect(f"{cluster.node_ws(2)}?token={token}") as ws:
            welcome = await next_of(ws, "welcome")
            target = welcome["participant"]["id"]
            await teacher.send({"type": "kick", "target": target, "reason": "spam"})
            kicked = await next_of(ws, "kicked")
            assert kicked["reason"] == "spam"
            with pytest.raises(ConnectionClosed) as closed:
                await next_of(ws, "never")
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4003
        # Still out: no fresh token, and the old one is refused on every other node.
        again = await http.post(f"{cluster.lb}/api/v1/sessions/{sid}/token", headers=student)
        assert again.status_code == 403
        assert again.json()["error"]["code"] == "banned"
        for n in (3, 1):
            async with connect(f"{cluster.node_ws(n)}?token={token}") as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await next_of(ws, "welcome")
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 4003
        await teacher.until(lambda m: m.count == 1)
    finally:
        await teacher.close()


async def test_a_killed_node_leaves_the_counts_right_within_15_seconds(
    cluster: Topology, http: httpx.AsyncClient
) -> None:
    sid = await live_session(http, cluster.lb, TEACHER, capacity=50)
    teacher = Member("teacher", await room_token(http, cluster.lb, sid, TEACHER), "")
    members = [
        Member(f"s{i}", await room_token(http, cluster.lb, sid, bearer(f"student-{i}")), "")
        for i in range(30)
    ]
    try:
        await teacher.join(cluster.node_ws(1))
        await asyncio.gather(*(m.join(node_url(cluster, i)) for i, m in enumerate(members)))
        await teacher.until(lambda m: m.count == 31)

        cluster.kill_node(3)
        killed_at = time.monotonic()
        await teacher.until(lambda m: m.count == 21, within=15)
        gone_after = time.monotonic() - killed_at
        room = await http.get(f"{cluster.lb}/api/v1/sessions/{sid}/participants", headers=TEACHER)
        assert room.json()["activeCount"] == 21
        assert await nodes_of(cluster, sid) == {"node-1": 11, "node-2": 10}
        print(f"a killed node's participants were gone after {gone_after:.1f} s")
        # The killed node's students come back through the balancer, onto the survivors.
        again = [
            Member(m.name, await room_token(http, cluster.lb, sid, bearer(f"student-{i}")), "")
            for i, m in enumerate(members)
            if i % NODES == 2
        ]
        await asyncio.gather(*(m.join(cluster.lb_ws) for m in again))
        members.extend(again)
        await teacher.until(lambda m: m.count == 31)
    finally:
        await close_all([teacher, *members])
