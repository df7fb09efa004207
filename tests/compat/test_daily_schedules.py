"""Seed 000 (the Daily.co app), scheduled sessions: conformance with the document's own
examples, and the link to the live session (``sessionId``) that moves the class."""

from __future__ import annotations

from typing import Any

import httpx

from tests.compat.seed_docs import assert_shape, section
from tests.compat.tokens import seed_bearer

DOC = "000_daily"
PART = "Scheduled Live Sessions API"
INSTRUCTOR = seed_bearer("instructor-id", "instructor", name="John Doe", email="john@example.com")
OTHER = seed_bearer("instructor-2", "instructor", name="Other One")
STUDENT = seed_bearer("student-1", "student")


def example(heading: str, index: int) -> Any:
    return section(DOC, heading, after=PART).examples()[index]


async def schedule(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(
        "/scheduled-sessions", json=example("1. Create Scheduled Session", 1), headers=INSTRUCTOR
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def live_session(client: httpx.AsyncClient) -> dict[str, Any]:
    body = section(DOC, "1. Create Live Session").examples()[1]
    response = await client.post("/sessions", json=body, headers=INSTRUCTOR)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_list_and_get(client: httpx.AsyncClient) -> None:
    created = await schedule(client)
    documented = example("1. Create Scheduled Session", 2)
    assert_shape(documented, created)
    assert created["startsAt"] == documented["startsAt"]
    assert (created["status"], created["sessionId"]) == ("scheduled", None)
    assert created["instructor"] == "instructor-id"

    missing = await client.post("/scheduled-sessions", json={}, headers=INSTRUCTOR)
    assert missing.status_code == 400
    assert missing.json() == example("1. Create Scheduled Session", 3)

    await schedule(client)
    listed = await client.get(
        "/scheduled-sessions?page=1&limit=10&instructorId=instructor-id", headers=STUDENT
    )
    assert listed.status_code == 200
    assert_shape(example("2. Get All Scheduled Sessions", 0), listed.json())
    body = listed.json()
    assert (body["page"], body["limit"], body["totalItems"], body["totalPages"]) == (1, 10, 2, 1)
    assert body["sessions"][0]["instructor"] == {
        "_id": "instructor-id",
        "name": "John Doe",
        "email": "john@example.com",
    }
    # the document's own request: another instructor's filter finds nothing here
    documented_request = section(DOC, "2. Get All Scheduled Sessions", after=PART).requests()[0]
    other = await client.get(documented_request.split(" ", 1)[1], headers=STUDENT)
    assert other.json()["totalItems"] == 0
    paged = await client.get("/scheduled-sessions?page=2&limit=1", headers=STUDENT)
    assert (len(paged.json()["sessions"]), paged.json()["totalPages"]) == (1, 2)

    got = await client.get(f"/scheduled-sessions/{created['_id']}", headers=STUDENT)
    assert got.status_code == 200
    assert_shape({**example("3. Get Scheduled Session by ID", 0), "sessionId": None}, got.json())
    nope = await client.get(
        "/scheduled-sessions/6f1c2a8e-6f5e-4a8e-9a53-0d2f3c7b9e11", headers=STUDENT
    )
    assert (nope.status_code, nope.json()) == (404, example("3. Get Scheduled Session by ID", 1))


async def test_status_by_patch_moves_the_linked_class(client: httpx.AsyncClient) -> None:
    slot = await schedule(client)
    live = await live_session(client)
    # the linked class is live already (Daily rooms open on creation): so is the slot
    put = await client.put(
        f"/scheduled-sessions/{slot['_id']}",
        json={**example("5. Update Scheduled Session", 1), "sessionId": live["roomName"]},
        headers=INSTRUCTOR,
    )
    assert put.status_code == 200, put.text
    assert_shape(example("5. Update Scheduled Session", 2), put.json())
    assert put.json()["startsAt"] == example("5. Update Scheduled Session", 1)["startsAt"]
    assert (put.json()["status"], put.json()["sessionId"]) == ("live", live["_id"])

    got = await client.get(f"/scheduled-sessions/{slot['_id']}", headers=STUDENT)
    assert_shape(example("3. Get Scheduled Session by ID", 0), got.json())
    assert got.json()["sessionId"] == {
        "_id": live["_id"],
        "roomName": live["roomName"],
        "title": live["title"],
    }

    path = f"/scheduled-sessions/{slot['_id']}/status"
    status = "4. Update Scheduled Session Status"
    for body, index in (({}, 3), ({"status": "paused"}, 4)):
        bad = await client.patch(path, json=body, headers=INSTRUCTOR)
        assert (bad.status_code, bad.json()) == (400, example(status, index))
    forbidden = await client.patch(path, json={"status": "finished"}, headers=OTHER)
    assert forbidden.status_code == 403
    assert forbidden.json() == example(status, 6)

    finished = await client.patch(path, json={"status": "finished"}, headers=INSTRUCTOR)
    assert finished.status_code == 200, finished.text
    assert_shape(example(status, 2), finished.json())
    assert finished.json()["status"] == "finished"
    # the class ended, for every API
    v1 = await client.get(f"/api/v1/sessions/{live['_id']}", headers=STUDENT)
    assert v1.json()["status"] == "ended"
    back = await client.patch(path, json={"status": "live"}, headers=INSTRUCTOR)
    assert back.status_code == 409


async def test_an_unlinked_slot_keeps_its_own_status(client: httpx.AsyncClient) -> None:
    slot = await schedule(client)
    path = f"/scheduled-sessions/{slot['_id']}/status"
    live = await client.patch(path, json=example("4. Update Scheduled Session Status", 1))
    assert live.status_code == 401
    live = await client.patch(
        path, json=example("4. Update Scheduled Session Status", 1), headers=INSTRUCTOR
    )
    assert (live.status_code, live.json()["status"]) == (200, "live")


async def test_delete(client: httpx.AsyncClient) -> None:
    slot = await schedule(client)
    path = f"/scheduled-sessions/{slot['_id']}"
    forbidden = await client.delete(path, headers=OTHER)
    assert (forbidden.status_code, forbidden.json()) == (
        403,
        example("6. Delete Scheduled Session", 2),
    )
    deleted = await client.delete(path, headers=INSTRUCTOR)
    assert (deleted.status_code, deleted.json()) == (200, example("6. Delete Scheduled Session", 0))
    again = await client.delete(path, headers=INSTRUCTOR)
    assert (again.status_code, again.json()) == (404, example("6. Delete Scheduled Session", 1))
