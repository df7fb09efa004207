"""Seed 000 (the Daily.co app), conformance: every request of the document sent as written,
every documented field, status and error checked, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from api.services import Services
from tests.compat.seed_docs import assert_shape, section
from tests.compat.tokens import seed_bearer

DOC = "000_daily"
INSTRUCTOR = seed_bearer("instructor-id", "instructor", name="John Doe", email="john@example.com")
OTHER = seed_bearer("instructor-2", "instructor", name="Other One")
STUDENT = seed_bearer("student-1", "student", name="Sam Student")


def example(heading: str, index: int, *, after: str | None = None) -> Any:
    return section(DOC, heading, after=after).examples()[index]


async def create(client: httpx.AsyncClient) -> dict[str, Any]:
    body = example("1. Create Live Session", 1)
    response = await client.post("/sessions", json=body, headers=INSTRUCTOR)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_and_get_a_live_session(client: httpx.AsyncClient) -> None:
    created = await create(client)
    documented = example("1. Create Live Session", 2)
    assert_shape(documented, created)
    assert created["title"] == documented["title"]
    assert created["description"] == documented["description"]
    assert created["instructor"] == "instructor-id"
    assert created["recordingId"] is None
    assert created["roomId"] == created["_id"]

    # Daily rooms exist at once: the class is live in liveclass, under the same room name
    name = created["roomName"]
    v1 = await client.get(f"/api/v1/sessions/{name}", headers=STUDENT)
    assert v1.json()["status"] == "live"
    assert v1.json()["id"] == created["_id"]

    got = await client.get(f"/sessions/{name}", headers=STUDENT)
    assert got.status_code == 200
    assert_shape(example("2. Get Live Session by Name", 0), got.json())
    assert got.json() == created

    missing = await client.get("/sessions/no-such-room", headers=STUDENT)
    assert (missing.status_code, missing.json()) == (404, {"message": "Session not found"})


async def test_get_without_authentication_reads_the_public_catalogue(
    settings_factory: Any, clock: Any
) -> None:
    from tests.api.helpers import own_client

    settings = settings_factory(public_catalog=True, default_tenant="acme")
    async with own_client(settings, clock) as client:
        created = await create(client)
        got = await client.get(f"/sessions/{created['roomName']}")
        assert got.status_code == 200
        assert got.json()["_id"] == created["_id"]


async def test_without_a_public_catalogue_anonymous_reads_are_401(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client)
    response = await client.get(f"/sessions/{created['roomName']}")
    assert response.status_code == 401
    assert set(response.json()) == {"message"}


async def test_delete_is_the_instructors_only(client: httpx.AsyncClient) -> None:
    created = await create(client)
    name = created["roomName"]
    forbidden = await client.delete(f"/sessions/{name}", headers=OTHER)
    assert forbidden.status_code == 403
    documented = example("3. Delete Live Session", 2)["message"]
    assert forbidden.json() == {"message": documented.replace("unique-room-name", name)}

    deleted = await client.delete(f"/sessions/{name}", headers=INSTRUCTOR)
    assert deleted.status_code == 200
    assert_shape(example("3. Delete Live Session", 0), deleted.json())
    assert deleted.json()["_id"] == created["_id"]

    gone = await client.delete(f"/sessions/{name}", headers=INSTRUCTOR)
    assert gone.status_code == 404
    assert gone.json() == example("3. Delete Live Session", 1)
    assert (await client.get(f"/api/v1/sessions/{name}", headers=STUDENT)).status_code == 404


async def test_meeting_token_carries_name_room_and_owner_flag(client: httpx.AsyncClient) -> None:
    created = await create(client)
    name = created["roomName"]
    body = example("7. Get Session Token", 1)
    for who, owner in ((INSTRUCTOR, True), (STUDENT, False)):
        response = await client.post(f"/sessions/{name}/token", json=body, headers=who)
        assert response.status_code == 200, response.text
        assert_shape(example("7. Get Session Token", 2), response.json())
        claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
        assert claims["name"] == "John Doe"
        assert claims["room_name"] == name
        assert claims["is_owner"] is owner
    missing = await client.post("/sessions/nope-room/token", json=body, headers=STUDENT)
    assert (missing.status_code, missing.json()) == (404, {"message": "Session not found"})


async def test_recording_start_stop_get_by_room_name(
    client: httpx.AsyncClient, services: Services
) -> None:
    created = await create(client)
    name = created["roomName"]
    not_recorded = await client.get(f"/sessions/{name}/recording", headers=STUDENT)
    assert not_recorded.status_code == 404
    assert not_recorded.json() == example("6. Get Session Recording", 2)

    forbidden = await client.post(f"/sessions/{name}/start-recording", headers=STUDENT)
    assert forbidden.status_code == 403
    assert forbidden.json() == {"message": f"Not authorized to record session:{name}"}
    missing = await client.post("/sessions/nope-room/start-recording", headers=INSTRUCTOR)
    assert missing.json() == example("4. Start Session Recording", 1)

    # a media worker is alive (it records; here the test settles the file in its place)
    await services.media_registry.heartbeat("worker-daily")
    started = await client.post(f"/sessions/{name}/start-recording", headers=INSTRUCTOR)
    assert started.status_code == 200, started.text
    assert_shape(example("4. Start Session Recording", 0), started.json())
    rid = started.json()["recordingId"]

    forbidden = await client.post(f"/sessions/{name}/stop-recording", headers=STUDENT)
    assert forbidden.json() == {"message": f"Not authorized to stop recording session:{name}"}
    stopped = await client.post(f"/sessions/{name}/stop-recording", headers=INSTRUCTOR)
    assert stopped.status_code == 200, stopped.text
    assert_shape(example("5. Stop Session Recording", 0), stopped.json())
    assert stopped.json()["recordingId"] == rid

    await services.server_recordings.finish(rid, size_bytes=1000, duration_seconds=3600)
    got = await client.get(f"/sessions/{name}/recording", headers=STUDENT)
    assert got.status_code == 200, got.text
    assert_shape(example("6. Get Session Recording", 0), got.json())
    assert got.json()["status"] == "finished"
    assert got.json()["duration"] == 3600
    assert (await client.get(f"/sessions/{name}", headers=STUDENT)).json()["recordingId"] == rid
    link = got.json()["accessLink"]["url"]
    assert (await client.get(link)).status_code in (200, 404)  # signed; the file is the worker's


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_errors_without_a_token_are_401_in_the_seed_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/sessions", json=example("1. Create Live Session", 1))
    assert response.status_code == 401
    assert set(response.json()) == {"message"}
    bad = await client.post("/sessions", json={"description": "no title"}, headers=INSTRUCTOR)
    assert (bad.status_code, bad.json()) == (400, {"message": "title is required"})
    student = await client.post(
        "/sessions", json=example("1. Create Live Session", 1), headers=STUDENT
    )
    assert student.status_code == 403
