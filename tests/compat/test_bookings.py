"""Seed 002 (the bookings app), conformance: the documented endpoints and response format
(its one example, field by field), booking safety (duplicates, capacity), the expert's and
the student's lists."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import own_client
from tests.compat.seed_docs import assert_shape, section
from tests.compat.tokens import seed_bearer
from tests.conftest import FakeClock

DOC = "002_bookings"
EXPERT = seed_bearer("expert-1", "expert", name="Dr. Jane Smith")
STUDENTS = [seed_bearer(f"student-{i}", "student") for i in range(3)]
BASE = "/api/live-sessions"


def documented_format() -> dict[str, Any]:
    body: dict[str, Any] = section(DOC, "Response Format Example").examples()[0]
    # ids are UUID strings in liveclass (the app's own database numbered them)
    body["data"][0]["id"] = "uuid"
    return body


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "Smart Farming Q&A Session",
        "date": "2025-08-25",
        "time": "15:14",
        "duration": 60,
        "maxParticipants": 50,
        **fields,
    }
    response = await client.post(BASE, json=body, headers=EXPERT)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["data"]
    return created


async def test_list_in_the_documented_format(client: httpx.AsyncClient) -> None:
    created = await create(client)
    listed = await client.get(BASE, headers=STUDENTS[0])
    assert listed.status_code == 200
    documented = documented_format()
    assert_shape(documented, listed.json())
    item = listed.json()["data"][0]
    expected = {k: v for k, v in documented["data"][0].items() if k != "id"}
    assert {k: item[k] for k in expected} == expected
    assert item["id"] == created["id"]
    assert listed.json()["pagination"] == documented["pagination"]


async def test_the_public_list_needs_no_token_when_the_catalogue_is_public(
    settings_factory: Any, clock: FakeClock
) -> None:
    async with own_client(settings_factory(public_catalog=True), clock) as client:
        created = await create(client, courseId="farming-101")
        await create(client, title="Other course", courseId="other")
        public = await client.get(f"{BASE}?tenant=acme&courseId=farming-101")
        assert public.status_code == 200, public.text
        assert [s["id"] for s in public.json()["data"]] == [created["id"]]
        assert public.json()["data"][0]["canJoin"] is False
    async with own_client(settings_factory(), clock) as client:
        refused = await client.get(BASE)
        assert refused.status_code == 401
        assert refused.json()["success"] is False


async def test_booking_is_duplicate_safe_capped_and_listed(client: httpx.AsyncClient) -> None:
    sid = (await create(client, maxParticipants=2))["id"]
    booked = await client.post(f"{BASE}/{sid}/book", headers=STUDENTS[0])
    assert booked.status_code == 201, booked.text
    assert booked.json()["data"]["status"] == "confirmed"
    again = await client.post(f"{BASE}/{sid}/book", headers=STUDENTS[0])
    assert again.status_code == 200
    assert again.json()["data"]["bookingId"] == booked.json()["data"]["bookingId"]
    alias = await client.post(f"{BASE}/{sid}/join", headers=STUDENTS[1])
    assert alias.status_code == 201
    full = await client.post(f"{BASE}/{sid}/book", headers=STUDENTS[2])
    assert full.status_code == 409
    assert full.json()["success"] is False

    details = await client.get(f"{BASE}/{sid}", headers=STUDENTS[0])
    data = details.json()["data"]
    assert (data["isBooked"], data["bookingStatus"], data["participants"]) == (True, "confirmed", 2)
    mine = await client.get(f"{BASE}/student/my-bookings", headers=STUDENTS[0])
    assert [b["id"] for b in mine.json()["data"]] == [sid]
    assert mine.json()["pagination"]["total"] == 1
    # the same enrollment through /api/v1
    v1 = await client.get("/api/v1/me/bookings", headers=STUDENTS[0])
    assert v1.json()["bookings"][0]["enrollment"]["id"] == booked.json()["data"]["bookingId"]


async def test_the_expert_runs_the_session(client: httpx.AsyncClient) -> None:
    sid = (await create(client))["id"]
    assert (await client.patch(f"{BASE}/{sid}/start", headers=STUDENTS[0])).status_code == 403
    started = await client.patch(f"{BASE}/{sid}/start", headers=EXPERT)
    assert started.status_code == 200, started.text
    assert started.json()["data"]["status"] == "active"
    assert started.json()["data"]["isExpert"] is True
    active = await client.get(f"{BASE}?status=active", headers=STUDENTS[0])
    assert [s["id"] for s in active.json()["data"]] == [sid]
    assert active.json()["data"][0]["canJoin"] is True
    mine = await client.get(f"{BASE}/expert/my-sessions", headers=EXPERT)
    assert [s["id"] for s in mine.json()["data"]] == [sid]
    assert (await client.get(f"{BASE}/expert/my-sessions", headers=STUDENTS[0])).status_code == 403
    ended = await client.patch(f"{BASE}/{sid}/end", headers=EXPERT)
    assert ended.json()["data"]["status"] == "ended"
    assert (await client.patch(f"{BASE}/{sid}/end", headers=EXPERT)).status_code == 409
    missing = await client.get(f"{BASE}/no-such-session", headers=EXPERT)
    assert missing.status_code == 404
