"""A ban closes every door of the session: the shared access check refuses a removed user on
every REST route of that session, not only the room token. And the host can undo it."""

from __future__ import annotations

import httpx

from api.services import Services
from tests.api.helpers import error_of
from tests.api.test_recordings import upload, webm
from tests.conftest import NewSession, People

API = "/api/v1"


async def test_a_banned_user_is_refused_at_every_door_of_the_session(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    sid = (await new_session(start=True))["id"]
    for who in (people.student, people.student2):
        assert (await client.post(f"{API}/sessions/{sid}/join", headers=who)).status_code == 200
    posted = await client.post(
        f"{API}/sessions/{sid}/messages", json={"text": "before"}, headers=people.student
    )
    assert posted.status_code == 201
    recording = await upload(client, sid, people.teacher, webm())
    assert recording.status_code == 201, recording.text
    rid = recording.json()["id"]

    await services.bans.ban(
        sid, "student-1", user_name="Sam Student", banned_by="teacher-1", reason="spam"
    )
    await client.post(
        f"{API}/sessions/{sid}/messages", json={"text": "after the kick"}, headers=people.teacher
    )

    doors = [
        ("GET", f"{API}/sessions/{sid}", None),
        ("GET", f"{API}/sessions/{sid}/messages", None),
        ("GET", f"{API}/sessions/{sid}/messages?after=0", None),
        ("POST", f"{API}/sessions/{sid}/messages", {"text": "still here?"}),
        ("GET", f"{API}/sessions/{sid}/participants", None),
        ("POST", f"{API}/sessions/{sid}/join", None),
        ("POST", f"{API}/sessions/{sid}/token", None),
        ("GET", f"{API}/sessions/{sid}/recordings", None),
        ("GET", f"{API}/recordings/{rid}", None),
        ("GET", f"{API}/recordings/{rid}/download", None),
        ("POST", f"{API}/sessions/{sid}/enroll", None),
    ]
    for method, path, body in doors:
        response = await client.request(method, path, json=body, headers=people.student)
        assert response.status_code == 403, (method, path, response.status_code, response.text)
        assert error_of(response)["code"] == "banned", (method, path)
    # The room name is another way to the same session.
    room = (await client.get(f"{API}/sessions/{sid}", headers=people.teacher)).json()
    by_name = await client.get(f"{API}/sessions/{room['roomName']}", headers=people.student)
    assert by_name.status_code == 403
    # Everyone else still gets in, the host included.
    for who in (people.teacher, people.student2, people.admin):
        for path in (f"{API}/sessions/{sid}", f"{API}/sessions/{sid}/messages"):
            response = await client.get(path, headers=who)
            assert response.status_code == 200, (path, response.text)
    participants = await client.get(f"{API}/sessions/{sid}/participants", headers=people.teacher)
    assert "student-1" not in {p["userId"] for p in participants.json()["participants"]}


async def test_the_host_lists_removals_and_lets_a_student_back_in(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
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
