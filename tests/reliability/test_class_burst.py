"""A 500-person class in one burst, on the default embedded store (SQLite, what `liveclass
run` starts) and on PostgreSQL + Redis: 500 clients join at once, then all 500 leave at once
(each waits for its `leave` ack, then hangs up). Attendance is exact afterwards (every leave
has its time), the store still takes writes at once (no lock left behind), and the log holds
no "database is locked", no CancelledError, no traceback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rooms.model import RoomRole
from rooms.tokens import RoomGrant, RoomTokens
from tests.conftest import JWT_SECRET, SECRET_KEY, bearer
from tests.integration.cluster import Node, deployment_env, logs_of, start_node
from tests.integration.test_two_nodes import live_session
from tests.reliability.clients import Client, close_all

CLASS = 500
TEACHER = bearer("teacher-1", "instructor")


@pytest.fixture(params=["embedded", "services"])
def node_env(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    if request.param == "embedded":  # no database or Redis configured: the defaults
        env = {"LIVECLASS_JWT_SECRET": JWT_SECRET, "LIVECLASS_SECRET_KEY": SECRET_KEY}
    else:
        env = deployment_env(
            request.getfixturevalue("postgres_ready"), request.getfixturevalue("redis_empty")
        )
    return str(request.param), {**env, "LIVECLASS_MEDIA_IN_PROCESS": "false"}


@pytest.fixture
async def node(node_env: tuple[str, dict[str, str]], tmp_path: Path) -> AsyncIterator[Node]:
    name, env = node_env
    async with start_node(f"burst-{name}", env, tmp_path / "data") as started:
        yield started


async def join_all(node: Node, sid: str) -> list[Client]:
    tokens = RoomTokens(SECRET_KEY, ttl_seconds=3600)
    gate = asyncio.Semaphore(100)  # the client side's own file descriptors and CPU

    async def one(i: int) -> Client:
        grant = RoomGrant.for_role(
            session_id=sid, tenant="acme", user_id=f"s{i}", name=f"S{i}", role=RoomRole.GUEST
        )
        async with gate:
            client = await Client.connect(f"{node.ws}?token={tokens.mint(grant)[0]}", f"s{i}")
        await client.welcome(within=120)
        return client

    return list(await asyncio.gather(*(one(i) for i in range(CLASS))))


async def leave(client: Client) -> None:
    answer = await client.request({"type": "leave"}, within=120)
    assert answer["type"] == "ack", (answer, client.closes, client.closed_by)
    await client.close()


async def test_a_class_of_500_joins_and_leaves_in_one_burst(node: Node) -> None:
    async with httpx.AsyncClient(base_url=node.http, timeout=120) as http:
        sid = await live_session(http, node, CLASS)
        started = time.monotonic()
        clients = await join_all(node, sid)
        joined = time.monotonic()
        try:
            await asyncio.gather(*(leave(c) for c in clients))
        finally:
            await close_all(clients)
        left = time.monotonic()
        # Right after the burst the store takes a write at once.
        write = time.monotonic()
        posted = await http.post(
            f"/api/v1/sessions/{sid}/messages", json={"text": "still here"}, headers=TEACHER
        )
        assert posted.status_code == 201, posted.text + logs_of(node)
        write = time.monotonic() - write
        report = await http.get(f"/api/v1/sessions/{sid}/attendance", headers=TEACHER)
        assert report.status_code == 200, report.text
        users = report.json()["participants"]
        open_rows = [u["userId"] for u in users for j in u["joins"] if j["leftAt"] is None]
        print(
            f"burst: {CLASS} joined in {joined - started:.1f}s, left in {left - joined:.1f}s; "
            f"next write {write * 1000:.0f} ms; {len(open_rows)} leaves without a time"
        )
        assert len(users) == CLASS
        assert open_rows == [], f"{len(open_rows)} leaves lost"
        assert write < 5.0
        roster = await http.get(f"/api/v1/sessions/{sid}/participants", headers=TEACHER)
        assert roster.json()["seatsTaken"] == 0
    for bad in ("database is locked", "CancelledError", "Traceback"):
        assert not [line for line in node.log if bad in line], logs_of(node, last=60)
