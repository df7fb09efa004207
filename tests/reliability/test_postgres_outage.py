"""PostgreSQL unreachable for a while, mid-class.

A TCP proxy sits between ``liveclass serve`` and PostgreSQL; the test cuts it (every
connection reset, new ones refused) and restores it. The guarantees:

- REST answers 503 in the JSON error shape (with ``Retry-After``), never a 500; ``/readyz``
  is red, and green again after;
- the room keeps running on Redis: connections stay, raised hands and pings work, a leave
  reaches the others;
- chat that cannot be persisted is refused with ``error unavailable`` (never acked, never
  delivered, not in the history afterwards);
- attendance of a leave during the outage is queued and written once the database is back,
  with the time of the leave.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from api.settings import Settings
from tests.api.helpers import error_of, own_client
from tests.cluster.clients import room_token
from tests.conftest import JWT_SECRET, SECRET_KEY, FakeClock, People, bearer
from tests.integration.cluster import Node, start_node
from tests.integration.test_two_nodes import live_session
from tests.reliability.backing import TcpProxy, running
from tests.reliability.clients import Client, close_all
from tests.waiting import eventually


@pytest.fixture
async def proxy(postgres_ready: str) -> AsyncIterator[TcpProxy]:
    url = make_url(postgres_ready)
    server = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    async with running(server):
        yield server


@pytest.fixture
async def node(
    postgres_ready: str, redis_ready: str, proxy: TcpProxy, tmp_path: Path
) -> AsyncIterator[Node]:
    database = make_url(postgres_ready).set(host="127.0.0.1", port=proxy.port)
    env = {
        "LIVECLASS_DATABASE_URL": database.render_as_string(hide_password=False),
        "LIVECLASS_REDIS_URL": redis_ready,
        "LIVECLASS_JWT_SECRET": JWT_SECRET,
        "LIVECLASS_SECRET_KEY": SECRET_KEY,
        "LIVECLASS_DB_POOL_SIZE": "4",  # PostgreSQL connections are shared by parallel suites
    }
    async with start_node("node-db", env, tmp_path / "node") as started:
        yield started


async def test_database_outage_mid_class(node: Node, proxy: TcpProxy) -> None:
    teacher = bearer("teacher-1", "instructor")
    clients: list[Client] = []
    async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
        sid = await live_session(http, node, 10)
        try:
            for who, name in ((teacher, "teacher"), (bearer("s1"), "s1"), (bearer("s2"), "s2")):
                token = await room_token(http, node.http, sid, who)
                clients.append(await Client.connect(f"{node.ws}?token={token}", name))
            host, s1, s2 = clients
            for c in clients:
                await c.welcome()
            before = await s1.request({"type": "chat", "text": "before"})
            assert before["type"] == "ack", before

            await proxy.cut()
            # REST: 503 in the error shape, readyz red.
            for path in ("/api/v1/sessions", f"/api/v1/sessions/{sid}/messages"):
                response = await http.get(path, headers=teacher)
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "unavailable"
                assert response.headers["retry-after"] == "5"
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"database": "unavailable", "redis": "ok"}

            # Chat cannot be stored: refused, not delivered.
            refused = await s1.request({"type": "chat", "text": "lost in the outage"})
            assert refused["type"] == "error", refused
            assert refused["code"] == "unavailable"
            # The room keeps running on Redis.
            hand = await s2.request({"type": "hand"})
            assert hand["type"] == "ack", hand
            await host.until(lambda c: c.of("hand"))
            await s1.send_raw('{"type": "ping", "ts": 1}')
            await s1.until(lambda c: c.of("pong"))
            left = await s2.request({"type": "leave"})
            assert left["type"] == "ack", left
            left_at = datetime.now().astimezone()
            await host.until(lambda c: any(p.get("count") == 2 for p in c.of("presence")))
            assert host.is_open
            assert s1.is_open

            await proxy.restore()

            async def ready_again() -> bool:
                return (await http.get("/readyz")).status_code == 200

            # The node's pool finds the database back on its next checkout: nothing to await.
            await eventually(ready_again, within=30, every=0.2)
            after = await s1.request({"type": "chat", "text": "after"})
            assert after["type"] == "ack", after
            await host.until(lambda c: {before["id"], after["id"]} <= c.chat_ids())
            assert not any(m["text"] == "lost in the outage" for m in host.of("chat"))
            history = (await http.get(f"/api/v1/sessions/{sid}/messages", headers=teacher)).json()
            assert [m["text"] for m in history["messages"]] == ["before", "after"]

            # The leave during the outage is written, with its own time.
            async def s2_left() -> str | None:
                report = await http.get(f"/api/v1/sessions/{sid}/attendance", headers=teacher)
                for user in report.json()["participants"]:
                    if user["userId"] == "s2" and user["joins"][-1]["leftAt"]:
                        return str(user["joins"][-1]["leftAt"])
                return None

            # Written by the node's retry once the database is back, behind the REST API.
            stamp = await eventually(s2_left, within=30, every=0.2)
            assert stamp is not None  # eventually returns a truthy answer
            written = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            assert abs((written - left_at).total_seconds()) < 5
        finally:
            await close_all(clients)


async def test_a_database_refusing_connections_is_503_not_500(
    postgres_ready: str, clock: FakeClock, people: People, tmp_path: Path
) -> None:
    """PostgreSQL answers but admits no one (too many connections, SQLSTATE 53300): asyncpg
    reports it as a plain database error, which must still be a 503."""
    admin = await asyncpg.connect(postgres_ready)
    try:
        await admin.execute("DROP ROLE IF EXISTS lc_no_connections")
        await admin.execute("CREATE ROLE lc_no_connections LOGIN CONNECTION LIMIT 0")
        url = make_url(postgres_ready).set(username="lc_no_connections")
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=url.render_as_string(hide_password=False),
            jwt_secret=JWT_SECRET,
            secret_key=SECRET_KEY,
            media_in_process=False,
        )
        async with own_client(settings, clock) as client:
            response = await client.get("/api/v1/sessions", headers=people.teacher)
            assert response.status_code == 503, response.text
            assert error_of(response)["code"] == "unavailable"
    finally:
        await admin.execute("DROP ROLE IF EXISTS lc_no_connections")
        await admin.close()
