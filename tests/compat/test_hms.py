"""Seed 001 (the 100ms yoga app), conformance: the document's integration flow for experts
and students, every request body as written, every documented field and error checked."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from tests.compat.seed_docs import assert_shape, section
from tests.compat.tokens import seed_bearer

DOC = "001_hms"
EXPERT = seed_bearer("exp_456", "expert", name="Deepak Kumar")
OTHER_EXPERT = seed_bearer("exp_999", "expert")
STUDENT = seed_bearer("user-1", "student", name="Sam Student")
STUDENT2 = seed_bearer("user-2", "student")
BASE = "/api/live/sessions"


def example(heading: str, index: int = 0) -> Any:
    return section(DOC, heading).examples()[index]


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    documented = section(DOC, "Error Responses").examples()[0]
    assert_shape(documented, response.json())
    assert response.json()["success"] is False


async def create(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(BASE, json=example("1. Create Live Session"), headers=EXPERT)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_experts_and_the_students_flow(client: httpx.AsyncClient) -> None:
    # expert: create (the document's body, price and metadata included)
    created = await create(client)
    documented = example("1. Create Live Session", 1)
    assert_shape(documented, created)
    session = created["data"]["session"]
    for field in ("title", "sessionType", "scheduledStartTime", "scheduledEndTime", "price"):
        assert session[field] == documented["data"]["session"][field], field
    assert (session["expertId"], session["expertName"]) == ("exp_456", "Deepak Kumar")
    assert (session["status"], session["isFree"], session["enrolledCount"]) == (
        "scheduled",
        False,
        0,
    )
    assert session["metadata"] == example("1. Create Live Session")["metadata"]
    assert created["message"] == documented["message"]
    sid = session["id"]

    # student: enroll with the documented payment (a paid session), twice: the same
    body = example("4. Enroll in Live Session")
    enrolled = await client.post(f"{BASE}/{sid}/enroll", json=body, headers=STUDENT)
    assert enrolled.status_code == 200, enrolled.text
    assert_shape(example("4. Enroll in Live Session", 1), enrolled.json())
    again = await client.post(f"{BASE}/{sid}/enroll", json=body, headers=STUDENT)
    assert again.json()["data"]["participantId"] == enrolled.json()["data"]["participantId"]
    unpaid = await client.post(f"{BASE}/{sid}/enroll", headers=STUDENT2)
    assert_error(unpaid, 400)
    not_enrolled = await client.post(f"{BASE}/{sid}/join-token", headers=STUDENT2)
    assert_error(not_enrolled, 403)

    # expert: start; the session URL opens the classroom
    assert_error(await client.post(f"{BASE}/{sid}/start", headers=STUDENT), 403)
    started = await client.post(f"{BASE}/{sid}/start", headers=EXPERT)
    assert started.status_code == 200, started.text
    assert_shape(example("3. Start Live Session"), started.json())
    assert started.json()["data"]["roomId"] == sid
    v1 = await client.get(f"/api/v1/sessions/{sid}", headers=STUDENT)
    assert started.json()["data"]["roomCode"] == v1.json()["roomName"]
    page = await client.get(started.json()["data"]["sessionUrl"].removeprefix("http://testserver"))
    assert page.status_code == 302
    assert page.headers["location"] == f"/classroom.html?session={sid}"

    # student: browse live sessions (the document's request)
    listed = await client.get(f"{BASE}?status=live&limit=10", headers=STUDENT)
    assert_shape(example("2. List Live Sessions"), listed.json())
    assert [s["id"] for s in listed.json()["data"]] == [sid]
    assert listed.json()["total"] == 1

    # join tokens: host for the expert, guest for the enrolled student
    for who, role, name in ((EXPERT, "host", "Deepak Kumar"), (STUDENT, "guest", "Sam Student")):
        token = await client.post(f"{BASE}/{sid}/join-token", headers=who)
        assert token.status_code == 200, token.text
        assert_shape(example("5. Get Join Token"), token.json())
        assert (token.json()["data"]["role"], token.json()["data"]["userName"]) == (role, name)
        claims = jwt.decode(token.json()["data"]["token"], options={"verify_signature": False})
        assert claims["sid"] == sid

    # expert: end, with the duration
    assert_error(await client.post(f"{BASE}/{sid}/end", headers=OTHER_EXPERT), 403)
    ended = await client.post(f"{BASE}/{sid}/end", headers=EXPERT)
    assert ended.status_code == 200, ended.text
    assert_shape(example("6. End Live Session"), ended.json())
    assert ended.json()["data"] == {"sessionId": sid, "duration": 0}
    assert_error(await client.post(f"{BASE}/{sid}/end", headers=EXPERT), 400)


async def test_filters_and_errors(client: httpx.AsyncClient) -> None:
    sid = (await create(client))["data"]["session"]["id"]
    other = await client.post(
        BASE, json={**example("1. Create Live Session"), "featured": True}, headers=OTHER_EXPERT
    )
    assert other.status_code == 201
    by_expert = await client.get(f"{BASE}?expertId=exp_456", headers=STUDENT)
    assert [s["id"] for s in by_expert.json()["data"]] == [sid]
    featured = await client.get(f"{BASE}?featured=true", headers=STUDENT)
    assert [s["expertId"] for s in featured.json()["data"]] == ["exp_999"]
    paged = await client.get(f"{BASE}?limit=1&skip=1", headers=STUDENT)
    assert (len(paged.json()["data"]), paged.json()["total"]) == (1, 2)

    assert_error(await client.get(BASE), 401)
    assert_error(
        await client.post(BASE, json=example("1. Create Live Session"), headers=STUDENT), 403
    )
    assert_error(await client.post(f"{BASE}/nope-room/start", headers=EXPERT), 404)
    assert_error(await client.post(BASE, json={"title": ""}, headers=EXPERT), 400)
