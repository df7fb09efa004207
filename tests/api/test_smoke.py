"""The whole class lifecycle once, on both backends: the suite's canary."""

from __future__ import annotations

import httpx

from tests.conftest import NewSession, People


async def test_a_whole_class(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(maxParticipants=5)
    sid = session["id"]
    assert session["status"] == "scheduled"
    assert session["canStart"] is True

    enrolled = await client.post(f"/api/v1/sessions/{sid}/enroll", headers=people.student)
    assert enrolled.status_code == 201, enrolled.text

    started = await client.post(f"/api/v1/sessions/{sid}/start", headers=people.teacher)
    assert started.json()["status"] == "live"

    token = await client.post(f"/api/v1/sessions/{sid}/token", headers=people.student)
    assert token.status_code == 200
    assert token.json()["role"] == "guest"

    joined = await client.post(f"/api/v1/sessions/{sid}/join", headers=people.student)
    assert joined.status_code == 200, joined.text
    roster = await client.get(f"/api/v1/sessions/{sid}/participants", headers=people.teacher)
    assert roster.json()["activeCount"] == 1

    ended = await client.post(f"/api/v1/sessions/{sid}/end", headers=people.teacher)
    assert ended.json()["status"] == "ended"
    roster = await client.get(f"/api/v1/sessions/{sid}/participants", headers=people.teacher)
    assert roster.json()["activeCount"] == 0
