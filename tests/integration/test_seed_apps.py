"""The seed apps against a real `liveclass serve` started on a port of its own with no public
URL (issue 15, acceptance 1 and lifecycle 1-2): the Daily app and the live-classes app run
their documented flows over HTTP, on the embedded defaults and on PostgreSQL + Redis, and
every link they get names the port the server listens on and opens the classroom."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from signaling.client import RoomClient
from tests.compat.seed_docs import section
from tests.compat.tokens import seed_bearer
from tests.conftest import JWT_SECRET, SECRET_KEY
from tests.integration.cluster import start_node


@pytest.fixture(params=["embedded", "services"])
def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    env = {
        "LIVECLASS_JWT_SECRET": JWT_SECRET,
        "LIVECLASS_SECRET_KEY": SECRET_KEY,
        "LIVECLASS_PUBLIC_URL": "",  # unset: links follow the requests
    }
    if request.param == "services":
        env["LIVECLASS_DATABASE_URL"] = request.getfixturevalue("postgres_ready")
        env["LIVECLASS_REDIS_URL"] = request.getfixturevalue("redis_empty")
    return env


async def test_seed_apps_on_a_served_port(backend_env: dict[str, str], tmp_path: Path) -> None:
    tenant = f"school-{secrets.token_hex(4)}"  # apart from other suites' data on PostgreSQL
    teacher = seed_bearer("tm-1", "training_manager", tenant, name="Tina")
    daily_teacher = seed_bearer("tm-1", "instructor", tenant, name="Tina")
    student = seed_bearer("s-1", "participant", tenant)
    async with (
        start_node("seeds", backend_env, tmp_path / "data") as node,
        httpx.AsyncClient(base_url=node.http, timeout=30) as http,
    ):
        origin = f"http://127.0.0.1:{node.port}"
        # the Daily app: a live session, its meeting token, a scheduled slot that ends it
        body = section("000_daily", "1. Create Live Session").examples()[1]
        created = await http.post("/sessions", json=body, headers=daily_teacher)
        assert created.status_code == 201, created.text
        name = created.json()["roomName"]
        token = await http.post(
            f"/sessions/{name}/token", json={"userName": "Sam"}, headers=student
        )
        assert token.status_code == 200, token.text
        # the meeting token opens the room on the WebSocket
        sam = RoomClient(node.ws, token.json()["token"], name="sam")
        welcome = await sam.join()
        await sam.close()
        assert (welcome["participant"]["name"], welcome["participant"]["role"]) == ("Sam", "guest")
        assert welcome["room"]["name"] == name
        v1 = (await http.get(f"/api/v1/sessions/{name}", headers=student)).json()
        assert v1["joinUrl"] == f"{origin}/classroom/{v1['id']}"
        page = await http.get(v1["joinUrl"], follow_redirects=True)
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        room_token = await http.post(f"/api/v1/sessions/{name}/token", headers=student)
        assert room_token.json()["wsUrl"] == f"ws://127.0.0.1:{node.port}/ws"

        # the live-classes app: its documented scenario
        create = {**section("004_live_classes", "1. CREATE LIVE CLASS").examples()[0]}
        create["tenantId"] = tenant
        made = await http.post("/live-classes", json=create, headers=teacher)
        assert made.status_code == 201, made.text
        cid = made.json()["id"]
        for step, who in (("start", teacher), ("join", student)):
            done = await http.post(f"/live-classes/{cid}/{step}", headers=who)
            assert done.status_code == 200, done.text
        state = (await http.get(f"/live-classes/{cid}/participants", headers=teacher)).json()
        assert (state["activeCount"], state["isFull"]) == (1, False)
        ended = await http.post(f"/live-classes/{cid}/end", headers=teacher)
        assert ended.json()["status"] == "ended"
        link = {"recordingUrl": "s3://bucket/recording.mp4"}
        stored = await http.post(f"/live-classes/{cid}/recording", json=link, headers=teacher)
        assert stored.json()["recordingUrl"] == link["recordingUrl"]

        # the class the Daily app created is ended through the live-classes API too
        assert (
            await http.post(f"/live-classes/{v1['id']}/end", headers=teacher)
        ).status_code == 200
        assert (await http.get(f"/sessions/{name}", headers=student)).status_code == 200
