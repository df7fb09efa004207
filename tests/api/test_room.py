"""The room over REST: room tokens, join/leave with capacity and expiry, the roster and the
attendance report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from api.services import Services
from api.settings import Settings
from rooms.errors import Unauthorized
from rooms.model import RoomRole
from tests.api.helpers import error_of
from tests.conftest import FakeClock, NewSession, People, bearer

API = "/api/v1"


def url(sid: str, action: str) -> str:
    return f"{API}/sessions/{sid}/{action}"


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def join(client: httpx.AsyncClient, sid: str, who: dict[str, str]) -> httpx.Response:
    return await client.post(url(sid, "join"), headers=who)


async def roster(client: httpx.AsyncClient, sid: str, who: dict[str, str]) -> dict[str, Any]:
    response = await client.get(url(sid, "participants"), headers=who)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def user_ids(body: dict[str, Any]) -> list[str]:
    participants = body["participants"]
    assert isinstance(participants, list)
    return sorted(p["userId"] for p in participants)


# -- room tokens ----------------------------------------------------------------------------


async def test_creator_gets_a_host_token_while_scheduled(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    session = await new_session()
    assert session["status"] == "scheduled"

    response = await client.post(url(session["id"], "token"), headers=people.teacher)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "host"
    assert body["isOwner"] is True
    assert body["grants"]["publish"] is True
    assert body["grants"]["moderate"] is True
    assert body["grants"]["hidden"] is False
    assert body["sessionId"] == session["id"]
    assert body["roomName"] == session["roomName"]
    assert body["userName"] == "Tina Teacher"
    assert body["wsUrl"] == "ws://testserver/ws"
    grant = services.room_tokens.verify(body["token"])
    assert grant.session_id == session["id"]
    assert grant.role is RoomRole.HOST
    assert grant.user_id == "teacher-1"
    assert grant.tenant == "acme"
    assert grant.can_publish
    assert grant.can_moderate
    assert int(ts(body["expiresAt"]).timestamp()) > 0


async def test_tenant_admin_gets_a_hidden_observer_token(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    session = await new_session()

    response = await client.post(url(session["id"], "token"), headers=people.admin)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "observer"
    assert body["isOwner"] is False
    assert body["grants"]["hidden"] is True
    assert body["grants"]["publish"] is False
    assert body["grants"]["moderate"] is False
    grant = services.room_tokens.verify(body["token"])
    assert grant.role is RoomRole.OBSERVER
    assert grant.hidden is True
    assert grant.user_id == "admin-1"


async def test_student_in_a_free_session_is_a_guest_without_enrolling(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    session = await new_session()

    response = await client.post(url(session["id"], "token"), headers=people.student)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "guest"
    assert body["isOwner"] is False
    assert body["userName"] == "Sam Student"
    assert body["grants"] == {
        "publish": False,
        "subscribe": True,
        "chat": True,
        "moderate": False,
        "hidden": False,
    }
    grant = services.room_tokens.verify(body["token"])
    assert (grant.session_id, grant.role, grant.user_id, grant.name) == (
        session["id"],
        RoomRole.GUEST,
        "student-1",
        "Sam Student",
    )


async def test_user_name_overrides_the_display_name(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    session = await new_session()

    response = await client.post(
        url(session["id"], "token"), json={"userName": "Sammy S."}, headers=people.student
    )

    assert response.status_code == 200, response.text
    assert response.json()["userName"] == "Sammy S."
    assert services.room_tokens.verify(response.json()["token"]).name == "Sammy S."


@pytest.mark.parametrize(
    ("fields", "enroll_body"),
    [
        ({"price": "25.00", "currency": "USD"}, {"paymentId": "pay_123", "amountPaid": "25.00"}),
        ({"requiresEnrollment": True}, None),
    ],
    ids=["paid", "requires-enrollment"],
)
async def test_enrollment_is_required_for_paid_or_gated_sessions(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    fields: dict[str, Any],
    enroll_body: dict[str, object] | None,
) -> None:
    session = await new_session(**fields)
    sid = session["id"]

    refused = await client.post(url(sid, "token"), headers=people.student)
    assert refused.status_code == 403, refused.text
    assert error_of(refused)["code"] == "not_enrolled"

    enrolled = await client.post(url(sid, "enroll"), json=enroll_body, headers=people.student)
    assert enrolled.status_code == 201, enrolled.text

    admitted = await client.post(url(sid, "token"), headers=people.student)
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["role"] == "guest"
    # Enrolling one student admits nobody else.
    other = await client.post(url(sid, "token"), headers=people.student2)
    assert other.status_code == 403
    assert error_of(other)["code"] == "not_enrolled"


async def test_another_tenant_does_not_see_the_session(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session()
    for who in (people.outsider, people.outsider_admin):
        response = await client.post(url(session["id"], "token"), headers=who)
        assert response.status_code == 404, response.text
        assert error_of(response)["code"] == "session_not_found"


async def test_a_room_token_is_not_a_bearer_token(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session()
    minted = await client.post(url(session["id"], "token"), headers=people.student)
    room_token = minted.json()["token"]
    as_bearer = {"Authorization": f"Bearer {room_token}"}

    for response in (
        await client.get(f"{API}/sessions/{session['id']}", headers=as_bearer),
        await client.post(url(session["id"], "token"), headers=as_bearer),
    ):
        assert response.status_code == 401, response.text
        assert error_of(response)["code"] == "invalid_token"
    # The same request with the platform token works, so the 401 is about the token.
    ok = await client.get(f"{API}/sessions/{session['id']}", headers=people.student)
    assert ok.status_code == 200


async def test_a_bearer_token_is_not_a_room_token(people: People, services: Services) -> None:
    platform_token = people.student["Authorization"].removeprefix("Bearer ")
    with pytest.raises(Unauthorized) as raised:
        services.room_tokens.verify(platform_token)
    assert raised.value.code == "invalid_token"
    # Nor is a platform token signed with the server secret itself (room keys are derived).
    forged = bearer("student-1", secret="test-server-secret-0123456789abcdef")
    with pytest.raises(Unauthorized):
        services.room_tokens.verify(forged["Authorization"].removeprefix("Bearer "))


# -- join, leave, participants ---------------------------------------------------------------


async def test_join_needs_a_live_session(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session()
    sid = session["id"]

    for who in (people.student, people.teacher):
        refused = await join(client, sid, who)
        assert refused.status_code == 409, refused.text
        error = error_of(refused)
        assert error["code"] == "room_not_live"
        assert error["details"] == {"status": "scheduled"}

    await client.post(url(sid, "start"), headers=people.teacher)
    assert (await join(client, sid, people.student)).status_code == 200


async def test_join_answers_with_the_participant(
    client: httpx.AsyncClient, people: People, new_session: NewSession, settings: Settings
) -> None:
    session = await new_session(start=True)

    response = await join(client, session["id"], people.student)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"]
    assert body["sessionId"] == session["id"]
    assert body["roomName"] == session["roomName"]
    assert body["userId"] == "student-1"
    assert body["role"] == "guest"
    assert body["created"] is True
    assert body["heartbeatSeconds"] == settings.rest_presence_ttl_seconds
    assert body["wsUrl"] == "ws://testserver/ws"


async def test_capacity_admits_seats_then_refuses_but_never_the_host_or_observers(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True, maxParticipants=2)
    sid = session["id"]

    assert (await join(client, sid, people.student)).status_code == 200
    assert (await join(client, sid, people.student2)).status_code == 200
    third = await join(client, sid, bearer("student-3", name="Third"))
    assert third.status_code == 409, third.text
    assert error_of(third)["code"] == "room_full"

    host = await join(client, sid, people.teacher)
    assert host.status_code == 200, host.text
    assert host.json()["role"] == "host"
    observer = await join(client, sid, people.admin)
    assert observer.status_code == 200, observer.text
    assert observer.json()["role"] == "observer"

    as_student = await roster(client, sid, people.student)
    assert as_student["status"] == "live"
    assert as_student["activeCount"] == 3
    assert as_student["maxCapacity"] == 2
    assert as_student["seatsTaken"] == 2
    assert as_student["isFull"] is True
    assert as_student["capacityUsed"] == 100.0
    assert user_ids(as_student) == ["student-1", "student-2", "teacher-1"]

    for manager in (people.teacher, people.admin):
        seen = await roster(client, sid, manager)
        assert seen["activeCount"] == 3
        assert seen["seatsTaken"] == 2
        assert user_ids(seen) == ["admin-1", "student-1", "student-2", "teacher-1"]
        roles = {p["userId"]: p["role"] for p in seen["participants"]}
        assert roles == {
            "admin-1": "observer",
            "student-1": "guest",
            "student-2": "guest",
            "teacher-1": "host",
        }
        assert all(p["source"] == "rest" for p in seen["participants"])

    still_full = await join(client, sid, bearer("student-3", name="Third"))
    assert still_full.status_code == 409
    assert error_of(still_full)["code"] == "room_full"


async def test_capacity_used_is_a_percentage_of_the_seats(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True, maxParticipants=3)
    sid = session["id"]
    await join(client, sid, people.teacher)
    await join(client, sid, people.student)

    body = await roster(client, sid, people.teacher)

    assert body["activeCount"] == 2
    assert body["seatsTaken"] == 1
    assert body["isFull"] is False
    assert body["capacityUsed"] == pytest.approx(33.33)


async def test_joining_twice_returns_the_same_participant(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True, maxParticipants=1)
    sid = session["id"]

    first = await join(client, sid, people.student)
    again = await join(client, sid, people.student)

    assert first.status_code == again.status_code == 200
    assert first.json()["created"] is True
    assert again.json()["created"] is False
    assert again.json()["id"] == first.json()["id"]
    body = await roster(client, sid, people.teacher)
    assert body["activeCount"] == 1
    assert body["seatsTaken"] == 1
    assert [p["id"] for p in body["participants"]] == [first.json()["id"]]


async def test_leave_frees_the_seat(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True, maxParticipants=1)
    sid = session["id"]
    joined = await join(client, sid, people.student)
    assert (await join(client, sid, people.student2)).status_code == 409

    left = await client.post(url(sid, "leave"), headers=people.student)

    assert left.status_code == 200, left.text
    body = left.json()
    assert body["id"] == joined.json()["id"]
    assert body["sessionId"] == sid
    assert body["userId"] == "student-1"
    assert body["leftAt"]
    after = await roster(client, sid, people.teacher)
    assert after["activeCount"] == 0
    assert after["seatsTaken"] == 0
    assert after["participants"] == []
    assert (await join(client, sid, people.student2)).status_code == 200

    twice = await client.post(url(sid, "leave"), headers=people.student)
    assert twice.status_code == 404
    assert error_of(twice)["code"] == "not_in_room"


async def test_leave_without_joining_is_not_found(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    await join(client, session["id"], people.student2)

    response = await client.post(url(session["id"], "leave"), headers=people.student)

    assert response.status_code == 404, response.text
    assert error_of(response)["code"] == "not_in_room"
    # Somebody else's seat is untouched.
    assert user_ids(await roster(client, session["id"], people.teacher)) == ["student-2"]


async def test_a_rest_seat_expires_without_a_new_join(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    settings: Settings,
    clock: FakeClock,
) -> None:
    session = await new_session(start=True, maxParticipants=1)
    sid = session["id"]
    await join(client, sid, people.student)
    clock.advance(settings.rest_presence_ttl_seconds - 5)
    assert user_ids(await roster(client, sid, people.teacher)) == ["student-1"]

    clock.advance(6)

    body = await roster(client, sid, people.teacher)
    assert body["participants"] == []
    assert body["activeCount"] == 0
    assert body["seatsTaken"] == 0
    assert body["isFull"] is False
    assert (await join(client, sid, people.student2)).status_code == 200


async def test_joining_again_keeps_the_seat(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    settings: Settings,
    clock: FakeClock,
) -> None:
    ttl = settings.rest_presence_ttl_seconds
    step = ttl * 2 // 3  # two steps outlast the TTL, one does not
    assert step < ttl < 2 * step
    session = await new_session(start=True, maxParticipants=1)
    sid = session["id"]
    first = await join(client, sid, people.student)

    clock.advance(step)
    again = await join(client, sid, people.student)
    clock.advance(step)

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False
    body = await roster(client, sid, people.teacher)
    assert [p["id"] for p in body["participants"]] == [first.json()["id"]]
    assert (await join(client, sid, people.student2)).status_code == 409

    clock.advance(ttl - step + 1)  # now past the refreshed expiry
    assert (await roster(client, sid, people.teacher))["participants"] == []


async def test_a_gated_session_refuses_to_seat_the_unenrolled(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True, requiresEnrollment=True)
    sid = session["id"]

    refused = await join(client, sid, people.student)
    assert refused.status_code == 403, refused.text
    assert error_of(refused)["code"] == "not_enrolled"
    assert (await roster(client, sid, people.teacher))["participants"] == []

    await client.post(url(sid, "enroll"), headers=people.student)
    assert (await join(client, sid, people.student)).status_code == 200


async def test_another_tenant_cannot_join_or_list(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    for action in ("join", "leave"):
        response = await client.post(url(sid, action), headers=people.outsider_admin)
        assert response.status_code == 404, response.text
        assert error_of(response)["code"] == "session_not_found"
    listed = await client.get(url(sid, "participants"), headers=people.outsider)
    assert listed.status_code == 404


async def test_ending_the_session_empties_the_room(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    for who in (people.student, people.student2, people.teacher, people.admin):
        assert (await join(client, sid, who)).status_code == 200
    assert (await roster(client, sid, people.teacher))["activeCount"] == 3

    ended = await client.post(url(sid, "end"), headers=people.teacher)
    assert ended.status_code == 200, ended.text

    body = await roster(client, sid, people.admin)
    assert body["status"] == "ended"
    assert body["participants"] == []
    assert body["activeCount"] == 0
    assert body["seatsTaken"] == 0
    late = await join(client, sid, people.student)
    assert late.status_code == 409
    assert error_of(late)["code"] == "room_not_live"
    assert error_of(late)["details"] == {"status": "ended"}
    gone = await client.post(url(sid, "leave"), headers=people.student)
    assert gone.status_code == 404


# -- attendance ------------------------------------------------------------------------------


async def test_attendance_is_for_the_instructor_and_admins(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]

    for who in (people.teacher, people.admin):
        allowed = await client.get(url(sid, "attendance"), headers=who)
        assert allowed.status_code == 200, allowed.text
        assert allowed.json() == {"sessionId": sid, "attendedCount": 0, "participants": []}
    for who in (people.student, people.other_teacher):
        refused = await client.get(url(sid, "attendance"), headers=who)
        assert refused.status_code == 403, refused.text
        assert error_of(refused)["code"] == "not_session_owner"
    hidden = await client.get(url(sid, "attendance"), headers=people.outsider_admin)
    assert hidden.status_code == 404
    assert error_of(hidden)["code"] == "session_not_found"


async def test_attendance_records_every_join_and_leave(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    await join(client, sid, people.teacher)
    for _ in range(2):
        assert (await join(client, sid, people.student)).status_code == 200
        assert (await client.post(url(sid, "leave"), headers=people.student)).status_code == 200

    response = await client.get(url(sid, "attendance"), headers=people.teacher)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["sessionId"] == sid
    assert report["attendedCount"] == 1
    users = {u["userId"]: u for u in report["participants"]}
    assert set(users) == {"student-1", "teacher-1"}

    student = users["student-1"]
    assert student["name"] == "Sam Student"
    assert student["role"] == "guest"
    assert student["attended"] is True
    assert len(student["joins"]) == 2
    intervals = [(ts(j["joinedAt"]), ts(j["leftAt"])) for j in student["joins"]]
    for joined_at, left_at in intervals:
        assert joined_at <= left_at
    assert intervals[0][1] <= intervals[1][0]  # the second visit starts after the first ended
    total = sum((b - a).total_seconds() for a, b in intervals)
    assert student["watchTime"] > 0
    assert student["watchTime"] == pytest.approx(total, abs=0.002)
    assert ts(student["firstJoinedAt"]) == intervals[0][0]
    assert ts(student["lastLeftAt"]) == intervals[1][1]

    host = users["teacher-1"]
    assert host["role"] == "host"
    assert host["attended"] is False  # attended is about guests
    assert len(host["joins"]) == 1
    assert host["joins"][0]["leftAt"] is None
    assert host["lastLeftAt"] is None


async def test_a_duplicate_join_is_not_a_second_visit(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    await join(client, sid, people.student)
    await join(client, sid, people.student)

    report = (await client.get(url(sid, "attendance"), headers=people.admin)).json()

    [student] = report["participants"]
    assert len(student["joins"]) == 1
    assert student["joins"][0]["leftAt"] is None


async def test_an_expired_seat_closes_its_attendance(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    settings: Settings,
    clock: FakeClock,
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    await join(client, sid, people.student)
    clock.advance(settings.rest_presence_ttl_seconds + 1)

    # Nobody looked at the room since the seat expired: the report itself must notice.
    report = (await client.get(url(sid, "attendance"), headers=people.teacher)).json()

    [student] = report["participants"]
    assert len(student["joins"]) == 1
    assert student["joins"][0]["leftAt"] is not None
    assert student["lastLeftAt"] == student["joins"][0]["leftAt"]
    assert student["attended"] is True


async def test_ending_the_session_closes_attendance(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    await join(client, sid, people.student)
    await join(client, sid, people.admin)
    await client.post(url(sid, "end"), headers=people.teacher)

    report = (await client.get(url(sid, "attendance"), headers=people.teacher)).json()

    users = {u["userId"]: u for u in report["participants"]}
    assert set(users) == {"student-1", "admin-1"}
    assert all(u["joins"][-1]["leftAt"] is not None for u in users.values())
    assert users["admin-1"]["role"] == "observer"
    assert users["admin-1"]["attended"] is False
    assert report["attendedCount"] == 1
