"""Undoing a removal: the host sees whom they removed and lets them back in."""

from __future__ import annotations

import httpx

from api.services import Services
from tests.api.helpers import error_of
from tests.conftest import People


async def test_the_host_lists_removals_and_lets_a_student_back_in(
    client: httpx.AsyncClient, people: People, new_session, services: Services
) -> None:
    sid = (await new_session(start=True))["id"]
    await services.bans.ban(
        sid, "student-1", user_name="Sam Student", banned_by="teacher-1", reason="spam"
    )
    token = f"/api/v1/sessions/{sid}/token"
    refused = await client.post(token, headers=people.student)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "banned"

    listed = await client.get(f"/api/v1/sessions/{sid}/bans", headers=people.teacher)
    assert listed.status_code == 200, listed.text
    (ban,) = listed.json()["bans"]
    assert ban["userId"] == "student-1"
    assert ban["userName"] == "Sam Student"
    assert ban["reason"] == "spam"
    assert ban["bannedBy"] == "teacher-1"

    for who in (people.student, people.student2):  # students neither see nor lift removals
        assert (await client.get(f"/api/v1/sessions/{sid}/bans", headers=who)).status_code == 403
        lifted = await client.delete(f"/api/v1/sessions/{sid}/bans/student-1", headers=who)
        assert lifted.status_code == 403
    outsider = await client.get(f"/api/v1/sessions/{sid}/bans", headers=people.outsider)
    assert outsider.status_code == 404

    lifted = await client.delete(f"/api/v1/sessions/{sid}/bans/student-1", headers=people.admin)
    assert lifted.status_code == 204, lifted.text
    assert not await services.presence.is_banned(sid, "student-1")
    assert (await client.post(token, headers=people.student)).status_code == 200
    assert (await client.get(f"/api/v1/sessions/{sid}/bans", headers=people.teacher)).json()[
        "bans"
    ] == []
    again = await client.delete(f"/api/v1/sessions/{sid}/bans/student-1", headers=people.teacher)
    assert again.status_code == 404
    assert error_of(again)["code"] == "ban_not_found"
