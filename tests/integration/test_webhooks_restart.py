"""Issue 8's webhook acceptance over real processes: "a webhook receiver gets every event once
per id, with a valid signature, also when the receiver fails the first attempts and when the
liveclass process restarts between attempts".

A real receiver (Starlette on uvicorn, a loopback port, in this test's process) refuses every
attempt while the class happens on real ``liveclass serve`` processes; once each event has
failed at least once, the processes go down (SIGTERM on SQLite; on PostgreSQL two nodes, one
killed with SIGKILL, the other stopped), the receiver recovers, and fresh processes on the same
database deliver everything from the durable outbox: each event id accepted exactly once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import JWT_SECRET, SECRET_KEY, bearer
from tests.integration.cluster import Node, start_node
from tests.webhooks.receiver import Receiver, serve_receiver

# A tenant of this run only: PostgreSQL is not emptied between integration tests.
TENANT = f"hooks-{secrets.token_hex(4)}"
ADMIN = bearer("admin-1", "admin", TENANT, name="Ada Admin")
TEACHER = bearer("teacher-1", "instructor", TENANT, name="Tina Teacher")
STUDENT = bearer("student-1", "student", TENANT, name="Sam Student")
STUDENT2 = bearer("student-2", "student", TENANT, name="Sue Second")

EXPECTED = sorted(
    [
        "enrollment.created",
        "session.started",
        "participant.joined",
        "participant.left",
        "participant.joined",
        "recording.ready",
        "participant.left",
        "session.ended",
        "session.cancelled",
    ]
)


@pytest.fixture(params=["embedded", "services"])
def backend_env(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """The backend and the nodes' environment (resolved before the test's event loop)."""
    backend = str(request.param)
    env = {
        "LIVECLASS_JWT_SECRET": JWT_SECRET,
        "LIVECLASS_SECRET_KEY": SECRET_KEY,
        "LIVECLASS_LOG_FORMAT": "json",
        # Fast retries, and enough of them that nothing dies while the nodes are down.
        "LIVECLASS_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
        "LIVECLASS_WEBHOOK_RETRY_MAX_SECONDS": "1",
        "LIVECLASS_WEBHOOK_MAX_ATTEMPTS": "50",
        "LIVECLASS_WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
        # A SIGKILLed node's in-flight lease must run out soon for the test to be quick.
        "LIVECLASS_WEBHOOK_TIMEOUT_SECONDS": "2",
        "LIVECLASS_WEBHOOK_LEASE_SECONDS": "3",
    }
    if backend == "services":
        env["LIVECLASS_DATABASE_URL"] = request.getfixturevalue("postgres_ready")
        env["LIVECLASS_REDIS_URL"] = request.getfixturevalue("redis_empty")
    return backend, env


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as r:
        yield r


async def _class_with_every_event(http: httpx.AsyncClient) -> None:
    async def ok(method: str, path: str, who: dict[str, str], **kw: Any) -> dict[str, Any]:
        response = await http.request(method, f"/api/v1{path}", headers=who, **kw)
        assert response.is_success, response.text
        return dict(response.json()) if response.content else {}

    sid = (await ok("POST", "/sessions", TEACHER, json={"title": "Hooks", "maxParticipants": 5}))[
        "id"
    ]
    await ok("POST", f"/sessions/{sid}/enroll", STUDENT)
    await ok("POST", f"/sessions/{sid}/start", TEACHER)
    await ok("POST", f"/sessions/{sid}/join", STUDENT)
    await ok("POST", f"/sessions/{sid}/leave", STUDENT)
    await ok("POST", f"/sessions/{sid}/join", STUDENT2)
    await ok(
        "POST",
        f"/sessions/{sid}/recordings",
        TEACHER,
        json={"recordingUrl": "https://x.example/r.mp4"},
    )
    await ok("POST", f"/sessions/{sid}/end", TEACHER)
    other = (await ok("POST", "/sessions", TEACHER, json={"title": "Cancelled"}))["id"]
    await ok("POST", f"/sessions/{other}/cancel", TEACHER)


async def _pending(http: httpx.AsyncClient) -> int:
    response = await http.get(
        "/api/v1/webhooks/deliveries", params={"status": "pending"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def _logged_delivered(nodes: list[Node], event_ids: set[str], within: float = 60) -> None:
    """Until the nodes have logged "webhook <type> <event id> ...: delivered" (the
    dispatcher's line, logged after the outcome's commit) for each of ``event_ids``."""

    def delivered() -> set[str]:
        return {
            event_id
            for node in nodes
            for line in node.log
            if ": delivered (" in line
            for event_id in event_ids
            if event_id in line
        }

    async with asyncio.timeout(within):
        while True:
            for node in nodes:
                node.logged.clear()
            if delivered() >= event_ids:
                return
            lines = [asyncio.create_task(node.logged.wait()) for node in nodes]
            try:
                await asyncio.wait(lines, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in lines:
                    waiter.cancel()


async def test_every_event_once_per_id_signed_across_failures_and_restarts(
    backend_env: tuple[str, dict[str, str]], receiver: Receiver, tmp_path: Path
) -> None:
    backend, env = backend_env
    names = ["node-a"] if backend == "embedded" else ["node-a", "node-b"]
    data = {name: tmp_path / name for name in names}
    receiver.failing = True

    async with AsyncExitStack() as first:
        nodes: list[Node] = [
            await first.enter_async_context(start_node(n, env, data[n])) for n in names
        ]
        async with httpx.AsyncClient(base_url=nodes[0].http, timeout=30) as http:
            created = await http.post(
                "/api/v1/webhooks/endpoints", json={"url": receiver.url}, headers=ADMIN
            )
            assert created.status_code == 201, created.text
            receiver.secret = created.json()["secret"]
            await _class_with_every_event(http)
            # Every event has been attempted (and refused) at least once...
            await receiver.wait_for(lambda r: len(r.failed) == len(EXPECTED))
        # ...then every process goes down between attempts.
        if backend == "services":
            nodes[0].kill()
            await nodes[0].process.wait()
    assert all(n.process.returncode is not None for n in nodes)
    assert receiver.delivered == {}
    attempts_before = len(receiver.receipts)

    receiver.failing = False
    async with AsyncExitStack() as second:
        nodes = [await second.enter_async_context(start_node(n, env, data[n])) for n in names]
        await receiver.wait_for(lambda r: len(r.delivered) == len(EXPECTED))
        # A node logs each outcome once it is committed: every accepted event's "delivered".
        await _logged_delivered(nodes, set(receiver.delivered))
        async with httpx.AsyncClient(base_url=nodes[-1].http, timeout=30) as http:
            assert await _pending(http) == 0
            log = (
                await http.get("/api/v1/webhooks/deliveries", params={"limit": 200}, headers=ADMIN)
            ).json()
            # Leave no endpoint behind for the next tests on this database.
            endpoint = log["deliveries"][0]["endpointId"]
            deleted = await http.delete(f"/api/v1/webhooks/endpoints/{endpoint}", headers=ADMIN)
            assert deleted.status_code == 204

    accepted = receiver.accepted()
    assert {r.payload["tenant"] for r in accepted} == {TENANT}
    assert sorted(r.event_type for r in accepted) == EXPECTED
    assert set(receiver.delivered.values()) == {1}, receiver.delivered
    assert all(r.signature_ok for r in receiver.receipts)
    assert {r.payload["id"] for r in accepted} == set(receiver.delivered)
    # The restarted processes made later attempts of the same events (same ids). The attempt
    # number is the database's count: an attempt cut short by SIGKILL is not in it, so an
    # event may be accepted at "attempt 1" after the receiver refused that unrecorded one.
    assert all(receiver.failed[r.event_id] >= 1 and r.attempt >= 1 for r in accepted)
    assert len(receiver.receipts) > attempts_before
    assert log["total"] == len(EXPECTED)
    assert {d["eventId"] for d in log["deliveries"]} == set(receiver.delivered)
    assert {d["status"] for d in log["deliveries"]} == {"delivered"}
