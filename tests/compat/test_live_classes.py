"""Seed 004 (self-hosted live classes), conformance: the document's step-by-step scenario and
every endpoint's example, sent as written, every documented field and error checked."""

from __future__ import annotations

from typing import Any

import httpx

from tests.compat.seed_docs import assert_shape, section
from tests.compat.tokens import seed_bearer
from tests.conftest import FakeClock

DOC = "004_live_classes"
MANAGER = seed_bearer("user-1", "training_manager", name="Tina Trainer")
ORG_ADMIN = seed_bearer("admin-1", "org_admin")
OTHER_MANAGER = seed_bearer("user-9", "training_manager")
STUDENTS = [seed_bearer(f"user-{i}", "participant") for i in range(2, 6)]
OUTSIDER = seed_bearer("user-1", "training_manager", tenant="globex")


def example(heading: str, index: int = 0) -> Any:
    return section(DOC, heading).examples()[index]


def error(status: int) -> dict[str, Any]:
    documented: dict[str, Any] = next(
        e for e in section(DOC, "Error Handling").examples() if e["statusCode"] == status
    )
    return documented


async def create(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    body = {**example("1. CREATE LIVE CLASS", 0), "tenantId": "acme", **changes}
    response = await client.post("/live-classes", json=body, headers=MANAGER)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_the_documented_class_from_creation_to_recording(client: httpx.AsyncClient) -> None:
    # 1. create: the document's body (its tenantId is the caller's own tenant here)
    created = await create(client)
    documented = example("1. CREATE LIVE CLASS", 1)
    assert_shape(documented, created)
    for field in ("title", "status", "scheduledAt", "maxParticipants", "participantCount"):
        assert created[field] == documented[field], field
    cid = created["id"]

    # 2. details with no one in it
    details = await client.get(f"/live-classes/{cid}", headers=STUDENTS[0])
    assert details.status_code == 200
    assert_shape({**example("3. GET LIVE CLASS DETAILS"), "participants": []}, details.json())

    # join before the start: 400
    early = await client.post(f"/live-classes/{cid}/join", headers=STUDENTS[0])
    assert early.status_code == 400
    assert early.json() == {**error(400), "message": "Cannot join class with status: scheduled"}

    # 3. start (scheduled in the past, as in the document: it still starts)
    forbidden = await client.post(f"/live-classes/{cid}/start", headers=OTHER_MANAGER)
    assert (forbidden.status_code, forbidden.json()) == (403, error(403))
    started = await client.post(f"/live-classes/{cid}/start", headers=MANAGER)
    assert started.status_code == 200, started.text
    assert_shape(example("4. START LIVE CLASS"), started.json())
    assert started.json()["message"] == example("4. START LIVE CLASS")["message"]
    again = await client.post(f"/live-classes/{cid}/start", headers=MANAGER)
    assert (again.status_code, again.json()) == (400, error(400))

    # 4. students list the live classes
    listed = await client.get("/live-classes?status=live", headers=STUDENTS[0])
    assert_shape(example("2. LIST LIVE CLASSES"), listed.json())
    assert [c["id"] for c in listed.json()["liveClasses"]] == [cid]
    paged = await client.get("/live-classes?status=live&limit=50&offset=0", headers=STUDENTS[0])
    assert (paged.json()["limit"], paged.json()["offset"], paged.json()["total"]) == (50, 0, 1)

    # 5. join (twice: the same participant) and the teacher too
    joined = await client.post(f"/live-classes/{cid}/join", headers=STUDENTS[0])
    assert joined.status_code == 200, joined.text
    assert_shape(example("6. JOIN LIVE CLASS"), joined.json())
    assert joined.json()["roomId"] == created["roomId"]
    twice = await client.post(f"/live-classes/{cid}/join", headers=STUDENTS[0])
    assert twice.json()["id"] == joined.json()["id"]
    await client.post(f"/live-classes/{cid}/join", headers=MANAGER)

    # 6. participants
    active = await client.get(f"/live-classes/{cid}/participants", headers=STUDENTS[1])
    assert_shape(example("8. GET ACTIVE PARTICIPANTS"), active.json())
    body = active.json()
    assert (body["activeCount"], body["maxCapacity"], body["isFull"]) == (2, 150, False)
    assert body["capacityUsed"] == "1%"
    assert {(p["userId"], p["role"]) for p in body["participants"]} == {
        ("user-1", "teacher"),
        ("user-2", "participant"),
    }
    details = await client.get(f"/live-classes/{cid}", headers=STUDENTS[0])
    assert_shape(example("3. GET LIVE CLASS DETAILS"), details.json())

    # 7. leave, and leave again: 404
    left = await client.post(f"/live-classes/{cid}/leave", headers=STUDENTS[0])
    assert left.status_code == 200
    assert_shape(example("7. LEAVE LIVE CLASS"), left.json())
    records = (await client.get(f"/live-classes/{cid}", headers=STUDENTS[1])).json()
    has_left = {p["userId"]: p["leftAt"] is not None for p in records["participants"]}
    assert has_left == {"user-1": False, "user-2": True}
    gone = await client.post(f"/live-classes/{cid}/leave", headers=STUDENTS[0])
    assert gone.status_code == 404
    assert gone.json() == {**error(404), "message": "Not currently in this live class"}

    # 8. end, then the recording URL, set once
    ended = await client.post(f"/live-classes/{cid}/end", headers=MANAGER)
    assert ended.status_code == 200
    assert_shape(example("5. END LIVE CLASS"), ended.json())
    assert ended.json()["message"] == example("5. END LIVE CLASS")["message"]
    # everyone is marked as left when the class ends
    after = (await client.get(f"/live-classes/{cid}", headers=STUDENTS[0])).json()
    assert all(p["leftAt"] is not None for p in after["participants"])
    recording = example("9. SET RECORDING URL", 0)
    stored = await client.post(f"/live-classes/{cid}/recording", json=recording, headers=MANAGER)
    assert stored.status_code == 200, stored.text
    assert_shape(example("9. SET RECORDING URL", 1), stored.json())
    assert stored.json()["recordingUrl"] == recording["recordingUrl"]
    once = await client.post(
        f"/live-classes/{cid}/recording", json={"recordingUrl": "s3://b/x.mp4"}, headers=MANAGER
    )
    assert once.status_code == 409


async def test_capacity_is_409_and_a_rest_seat_stays_taken(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cid = (await create(client, maxParticipants=2))["id"]
    assert (await client.post(f"/live-classes/{cid}/start", headers=ORG_ADMIN)).status_code == 200
    for student in STUDENTS[:2]:
        assert (await client.post(f"/live-classes/{cid}/join", headers=student)).status_code == 200
    # long after the 60 s a renewing REST seat lasts: the seats are still taken
    clock.advance(600)
    full = await client.post(f"/live-classes/{cid}/join", headers=STUDENTS[2])
    assert full.status_code == 409
    assert full.json() == {
        **error(409),
        "message": "Live class is at maximum capacity (2 participants)",
    }
    state = (await client.get(f"/live-classes/{cid}/participants", headers=MANAGER)).json()
    assert (state["activeCount"], state["isFull"], state["capacityUsed"]) == (2, True, "100%")
    # until leave frees one
    await client.post(f"/live-classes/{cid}/leave", headers=STUDENTS[0])
    assert (await client.post(f"/live-classes/{cid}/join", headers=STUDENTS[2])).status_code == 200


async def test_roles_and_tenants(client: httpx.AsyncClient) -> None:
    body = {**example("1. CREATE LIVE CLASS", 0), "tenantId": "acme"}
    student = await client.post("/live-classes", json=body, headers=STUDENTS[0])
    assert student.status_code == 403
    assert set(student.json()) == {"statusCode", "message", "error"}
    # the document's own tenantId is not this caller's tenant
    foreign = await client.post(
        "/live-classes", json=example("1. CREATE LIVE CLASS", 0), headers=MANAGER
    )
    assert (foreign.status_code, foreign.json()["error"]) == (403, "Forbidden")
    missing = await client.post("/live-classes", json={"title": "x"}, headers=MANAGER)
    assert missing.json() == {
        "statusCode": 400,
        "message": "scheduledAt is required",
        "error": "Bad Request",
    }
    cid = (await create(client))["id"]
    hidden = await client.get(f"/live-classes/{cid}", headers=OUTSIDER)
    assert (hidden.status_code, hidden.json()) == (404, error(404))
    assert (await client.get("/live-classes", headers=OUTSIDER)).json()["total"] == 0
