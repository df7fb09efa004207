"""Redis restarted mid-class (kill -9, no persistence: every key is gone).

Two ``liveclass serve`` nodes share a private ``redis-server`` that the test kills and starts
again on the same port. The guarantees:

- the WebSocket connections stay open through the outage; a request that needs Redis while
  it is down is answered ``error unavailable`` (the connection stays);
- the nodes notice Redis lost its data (its epoch key changed) and re-assert their
  participants: the room's count is right again within seconds, on REST and for new joins;
- no acknowledged chat message is lost: each one is in the history and reached every
  participant, also those on a node whose bus was still reconnecting when it was posted.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.cluster.clients import room_token
from tests.conftest import bearer
from tests.integration.cluster import Node, logs_of
from tests.integration.test_two_nodes import live_session
from tests.reliability.backing import PrivateRedis, running
from tests.reliability.clients import Client, close_all
from tests.waiting import eventually


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    async with running(server):
        yield server


@pytest.fixture
def deployment_redis(private_redis: PrivateRedis) -> str:
    return private_redis.url


@pytest.fixture
def node_env() -> dict[str, str]:
    return {
        "LIVECLASS_HEARTBEAT_INTERVAL_SECONDS": "1",
        "LIVECLASS_SWEEP_INTERVAL_SECONDS": "1",
        "LIVECLASS_PRESENCE_TTL_SECONDS": "10",
    }


async def active_count(http: httpx.AsyncClient, node: Node, sid: str) -> int | None:
    response = await http.get(
        f"{node.http}/api/v1/sessions/{sid}/participants",
        headers=bearer("teacher-1", "instructor"),
    )
    return int(response.json()["activeCount"]) if response.status_code == 200 else None


async def test_redis_restart_mid_class_loses_nobody_and_no_acked_chat(
    two_nodes: tuple[Node, Node], private_redis: PrivateRedis
) -> None:
    a, b = two_nodes
    teacher = bearer("teacher-1", "instructor")
    clients: list[Client] = []
    async with httpx.AsyncClient(timeout=30) as http:
        sid = await live_session(http, a, 10)
        try:
            clients.append(
                await Client.connect(
                    f"{a.ws}?token={await room_token(http, a.http, sid, teacher)}", "teacher"
                )
            )
            for i, node in enumerate((a, b, b)):
                token = await room_token(http, a.http, sid, bearer(f"student-{i}"))
                clients.append(await Client.connect(f"{node.ws}?token={token}", f"student-{i}"))
            for c in clients:
                await c.welcome()
            assert await active_count(http, a, sid) == 4
            acked: list[str] = []
            ack = await clients[0].request({"type": "chat", "text": "before the restart"})
            assert ack["type"] == "ack", ack
            acked.append(ack["id"])

            await private_redis.stop()
            # Down: a request is refused, the connection stays; REST is 503.
            answer = await clients[2].request({"type": "chat", "text": "while down"})
            assert answer["type"] == "error", answer
            assert answer["code"] == "unavailable"
            hand = await clients[3].request({"type": "hand"})
            assert hand["code"] == "unavailable", hand
            rest = await http.get(f"{b.http}/api/v1/sessions/{sid}/participants", headers=teacher)
            assert rest.status_code == 503
            assert rest.json()["error"]["code"] == "unavailable"

            await private_redis.start()
            restarted = time.monotonic()
            # Chat at once, before the nodes noticed: stored, so acked, and delivered. Until
            # the node's Redis pool has reconnected (which it announces to no one), it refuses.

            async def chat_right_after() -> str | None:
                first = await clients[1].request({"type": "chat", "text": "right after"})
                if first["type"] == "ack":
                    return str(first["id"])
                assert first["code"] == "unavailable", first
                return None

            first_id = await eventually(chat_right_after, within=30, every=0.2)
            assert first_id is not None  # eventually returns a truthy answer
            acked.append(first_id)

            async def four() -> bool:
                return await active_count(http, a, sid) == 4

            # Each node re-asserts on its next heartbeat; the count is read over REST.
            await eventually(four, within=30, every=0.2)
            reasserted = time.monotonic() - restarted
            print(f"presence re-asserted {reasserted:.1f} s after Redis came back")
            assert await active_count(http, b, sid) == 4

            for c in clients:
                ack = await c.request({"type": "chat", "text": f"after, from {c.name}"})
                assert ack["type"] == "ack", ack
                acked.append(ack["id"])
            try:
                for c in clients:
                    await c.until(lambda c: set(acked) <= c.chat_ids(), within=30)
            except TimeoutError as exc:
                seen = {
                    c.name: [(m["id"], m["seq"], m["text"]) for m in c.of("chat")] for c in clients
                }
                raise AssertionError(f"acked {acked}\nseen {seen}\n{logs_of(a, b)}") from exc
                assert c.is_open, c.name
            history = await http.get(f"{a.http}/api/v1/sessions/{sid}/messages", headers=teacher)
            stored = {m["id"] for m in history.json()["messages"]}
            assert set(acked) <= stored
            assert not any(m["text"] == "while down" for m in history.json()["messages"])

            # Counts are right for newcomers too, and capacity still holds.
            late = await Client.connect(
                f"{b.ws}?token={await room_token(http, a.http, sid, bearer('late'))}", "late"
            )
            clients.append(late)
            welcome = await late.welcome()
            assert welcome["count"] == 5
            assert welcome["seats"] == 4
        finally:
            await close_all(clients)
