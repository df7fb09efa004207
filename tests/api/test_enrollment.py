"""Enrollment, bookings, the instructor's sessions and feedback, on both backends.

The seat cap and duplicate safety are checked under real concurrency (``asyncio.gather`` of
requests into the same app): on SQLite the writers queue behind ``BEGIN IMMEDIATE``, on
PostgreSQL the conditional update and the partial unique index settle the races.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.services import Services
from rooms.store.tables import EnrollmentRow, FeedbackRow
from tests.conftest import NewSession, People, bearer

API = "/api/v1"


# -- helpers --------------------------------------------------------------------------------


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the JSON error shape with ``status`` and ``code``; return the error member."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


async def enroll(
    client: httpx.AsyncClient, ref: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    if body is None:
        return await client.post(f"{API}/sessions/{ref}/enroll", headers=headers)
    return await client.post(f"{API}/sessions/{ref}/enroll", headers=headers, json=body)


async def unenroll(client: httpx.AsyncClient, ref: str, headers: dict[str, str]) -> httpx.Response:
    return await client.delete(f"{API}/sessions/{ref}/enroll", headers=headers)


async def session_as(
    client: httpx.AsyncClient, ref: str, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.get(f"{API}/sessions/{ref}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def roster(client: httpx.AsyncClient, ref: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"{API}/sessions/{ref}/enrollments", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["total"] == len(body["enrollments"])
    return body


async def transition(
    client: httpx.AsyncClient, ref: str, action: str, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(f"{API}/sessions/{ref}/{action}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def at(hours: float) -> str:
    """A scheduled time ``hours`` from now, on a whole minute (ISO 8601, UTC)."""
    base = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
    return (base + timedelta(hours=hours)).isoformat()


def crowd(n: int, prefix: str = "crowd") -> list[dict[str, str]]:
    return [bearer(f"{prefix}-{i}", "student", name=f"Crowd {i}") for i in range(n)]


# -- POST /sessions/{ref}/enroll ------------------------------------------------------------


async def test_first_enrollment_is_201_and_takes_a_seat(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(maxParticipants=5)
    sid = session["id"]
    before = await session_as(client, sid, people.student)
    assert (before["enrolledCount"], before["seatsAvailable"]) == (0, 5)
    assert before["isEnrolled"] is False
    assert before["canEnroll"] is True

    response = await enroll(client, sid, people.student)
    assert response.status_code == 201, response.text
    body = response.json()
    assert uuid.UUID(body["id"])
    assert body["sessionId"] == sid
    assert body["userId"] == "student-1"
    assert body["userName"] == "Sam Student"
    assert body["status"] == "active"
    assert body["cancelledAt"] is None
    assert body["paid"] is False
    assert body["paymentId"] is None
    assert body["paymentGateway"] is None
    assert body["currency"] is None
    assert body["enrolledCount"] == 1
    assert body["seatsAvailable"] == 4
    enrolled_at = datetime.fromisoformat(body["enrolledAt"])
    assert abs(datetime.now(UTC) - enrolled_at) < timedelta(minutes=1)

    after = await session_as(client, sid, people.student)
    assert (after["enrolledCount"], after["seatsAvailable"]) == (1, 4)
    assert after["isEnrolled"] is True
    assert after["canEnroll"] is False
    # The flags are the caller's: another student still may enroll.
    other = await session_as(client, sid, people.student2)
    assert other["isEnrolled"] is False
    assert other["canEnroll"] is True
    assert other["enrolledCount"] == 1


async def test_second_enrollment_returns_the_same_one_with_200(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=5))["id"]
    first = await enroll(client, sid, people.student)
    assert first.status_code == 201, first.text
    second = await enroll(client, sid, people.student)
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["enrolledAt"] == first.json()["enrolledAt"]
    assert second.json()["enrolledCount"] == 1
    assert second.json()["seatsAvailable"] == 4
    assert (await session_as(client, sid, people.teacher))["enrolledCount"] == 1
    assert [e["id"] for e in (await roster(client, sid, people.teacher))["enrollments"]] == [
        first.json()["id"]
    ]


async def test_enroll_by_room_name(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(roomName="algebra-101", maxParticipants=3)
    response = await enroll(client, "algebra-101", people.student)
    assert response.status_code == 201, response.text
    assert response.json()["sessionId"] == session["id"]
    assert response.json()["enrolledCount"] == 1
    # The same seat, whichever way the session is addressed.
    by_id = await enroll(client, session["id"], people.student)
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["id"] == response.json()["id"]
    assert (await session_as(client, "algebra-101", people.student))["isEnrolled"] is True


async def test_enroll_body_is_optional(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    no_body = await enroll(client, sid, people.student)
    assert no_body.status_code == 201, no_body.text
    empty_object = await enroll(client, sid, people.student2, body={})
    assert empty_object.status_code == 201, empty_object.text
    assert empty_object.json()["enrolledCount"] == 2
    assert (await session_as(client, sid, people.teacher))["enrolledCount"] == 2


async def test_the_sessions_own_instructor_cannot_enroll(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    error_of(await enroll(client, sid, people.teacher), 403, "is_instructor")
    view = await session_as(client, sid, people.teacher)
    assert view["enrolledCount"] == 0
    assert view["canEnroll"] is False
    assert view["isInstructor"] is True
    # Another instructor of the tenant is an ordinary attendee here.
    other = await enroll(client, sid, people.other_teacher)
    assert other.status_code == 201, other.text
    assert other.json()["enrolledCount"] == 1


async def test_enroll_into_another_tenants_session_is_404(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(roomName="acme-only", maxParticipants=3)
    error_of(await enroll(client, session["id"], people.outsider), 404, "session_not_found")
    error_of(await enroll(client, "acme-only", people.outsider), 404, "session_not_found")
    error_of(await enroll(client, session["id"], people.outsider_admin), 404, "session_not_found")
    error_of(await enroll(client, str(uuid.uuid4()), people.student), 404, "session_not_found")
    assert (await session_as(client, session["id"], people.teacher))["enrolledCount"] == 0


async def test_enroll_without_a_token_is_401(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    response = await client.post(f"{API}/sessions/{sid}/enroll")
    error_of(response, 401, "missing_token")
    assert response.headers["www-authenticate"] == "Bearer"
    forged = bearer("student-1", secret="not-the-platform-secret-0123456789")
    error_of(await enroll(client, sid, forged), 401, "invalid_token")
    assert (await session_as(client, sid, people.teacher))["enrolledCount"] == 0


async def test_enroll_into_ended_or_cancelled_session_is_409(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    ended = await new_session(start=True, maxParticipants=3)
    await transition(client, ended["id"], "end", people.teacher)
    error = error_of(await enroll(client, ended["id"], people.student), 409, "invalid_state")
    assert error["details"] == {"status": "ended"}
    assert (await session_as(client, ended["id"], people.student))["canEnroll"] is False

    cancelled = await new_session(maxParticipants=3)
    await transition(client, cancelled["id"], "cancel", people.teacher)
    error = error_of(await enroll(client, cancelled["id"], people.student), 409, "invalid_state")
    assert error["details"] == {"status": "cancelled"}

    for sid in (ended["id"], cancelled["id"]):
        assert (await session_as(client, sid, people.teacher))["enrolledCount"] == 0
        assert (await roster(client, sid, people.teacher))["enrollments"] == []


async def test_enroll_into_a_live_session(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True, maxParticipants=3, requiresEnrollment=True)
    sid = session["id"]
    assert session["status"] == "live"
    assert (await session_as(client, sid, people.student))["canJoin"] is False
    response = await enroll(client, sid, people.student)
    assert response.status_code == 201, response.text
    assert response.json()["enrolledCount"] == 1
    view = await session_as(client, sid, people.student)
    assert view["isEnrolled"] is True
    assert view["canJoin"] is True


# -- paid sessions --------------------------------------------------------------------------


async def test_paid_session_without_payment_is_402(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(price=499, currency="INR", maxParticipants=3)
    sid = session["id"]
    assert (session["price"], session["currency"], session["isFree"]) == (499.0, "INR", False)
    error = error_of(await enroll(client, sid, people.student), 402, "payment_required")
    assert error["details"] == {"price": 499.0, "currency": "INR"}
    # Gateway and amount without the payment's id are not a payment either.
    body = {"paymentGateway": "razorpay", "amountPaid": 499}
    error = error_of(await enroll(client, sid, people.student, body=body), 402, "payment_required")
    assert error["details"] == {"price": 499.0, "currency": "INR"}
    view = await session_as(client, sid, people.student)
    assert view["enrolledCount"] == 0
    assert view["isEnrolled"] is False


async def test_paid_enrollment_records_the_payment(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(price=499, currency="INR", maxParticipants=3))["id"]
    full = {"paymentId": "pay_Abc123", "paymentGateway": "razorpay", "amountPaid": 499}
    response = await enroll(client, sid, people.student, body=full)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["paid"] is True
    assert body["paymentId"] == "pay_Abc123"
    assert body["paymentGateway"] == "razorpay"
    assert body["amountPaid"] == 499.0
    assert body["currency"] == "INR"
    assert body["enrolledCount"] == 1

    # Without amountPaid the amount is unknown (never invented; see test_payments.py).
    response = await enroll(client, sid, people.student2, body={"paymentId": "pay_Def456"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["paid"] is True
    assert body["paymentId"] == "pay_Def456"
    assert body["paymentGateway"] is None
    assert body["amountPaid"] is None
    assert body["currency"] == "INR"
    assert body["enrolledCount"] == 2

    listed = {e["userId"]: e for e in (await roster(client, sid, people.teacher))["enrollments"]}
    assert (listed["student-1"]["paymentId"], listed["student-1"]["amountPaid"]) == (
        "pay_Abc123",
        499.0,
    )
    assert (listed["student-2"]["paymentId"], listed["student-2"]["amountPaid"]) == (
        "pay_Def456",
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"paymentId": "pay_1", "paymentGateway": "Razor Pay"},
        {"paymentId": "pay_1", "paymentGateway": "RAZORPAY"},
        {"paymentId": "pay_1", "paymentGateway": ""},
        {"paymentId": "pay_1", "paymentGateway": "g" * 33},
        {"paymentId": "pay_1", "amountPaid": -1},
        {"paymentId": "pay_1", "amountPaid": "lots"},
        {"paymentId": ""},
        {"paymentId": "pay_1", "coupon": "FREE"},
    ],
    ids=[
        "gateway-space",
        "gateway-upper",
        "gateway-empty",
        "gateway-long",
        "amount-negative",
        "amount-text",
        "payment-id-empty",
        "unknown-field",
    ],
)
async def test_invalid_enrollment_body_is_422(
    client: httpx.AsyncClient, people: People, new_session: NewSession, body: dict[str, Any]
) -> None:
    sid = (await new_session(price=499, currency="INR", maxParticipants=3))["id"]
    error = error_of(await enroll(client, sid, people.student, body=body), 422, "validation_failed")
    assert error["details"]
    assert (await session_as(client, sid, people.student))["enrolledCount"] == 0


# -- capacity -------------------------------------------------------------------------------


async def test_full_session_refuses_then_admits_after_a_seat_frees(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=2))["id"]
    third = bearer("student-3", "student")
    assert (await enroll(client, sid, people.student)).status_code == 201
    second = await enroll(client, sid, people.student2)
    assert second.status_code == 201, second.text
    assert (second.json()["enrolledCount"], second.json()["seatsAvailable"]) == (2, 0)

    error = error_of(await enroll(client, sid, third), 409, "session_full")
    assert error["details"] == {"maxParticipants": 2}
    view = await session_as(client, sid, third)
    assert (view["enrolledCount"], view["seatsAvailable"], view["canEnroll"]) == (2, 0, False)
    # An enrolled student asking again still gets the seat, not "full".
    again = await enroll(client, sid, people.student)
    assert again.status_code == 200, again.text

    assert (await unenroll(client, sid, people.student)).status_code == 200
    assert (await session_as(client, sid, third))["canEnroll"] is True
    admitted = await enroll(client, sid, third)
    assert admitted.status_code == 201, admitted.text
    assert admitted.json()["enrolledCount"] == 2
    error_of(await enroll(client, sid, people.student), 409, "session_full")
    users = [e["userId"] for e in (await roster(client, sid, people.teacher))["enrollments"]]
    assert sorted(users) == ["student-2", "student-3"]


async def test_50_concurrent_enrollments_fill_10_seats_exactly(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=10))["id"]
    students = crowd(50)
    responses = await asyncio.gather(*(enroll(client, sid, h) for h in students))

    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 40, statuses
    admitted = [r.json() for r in responses if r.status_code == 201]
    for refused in (r for r in responses if r.status_code == 409):
        error = error_of(refused, 409, "session_full")
        assert error["details"] == {"maxParticipants": 10}
    # Each admission saw its own seat: the counts handed out are 1..10, once each.
    assert sorted(e["enrolledCount"] for e in admitted) == list(range(1, 11))
    assert all(e["seatsAvailable"] == 10 - e["enrolledCount"] for e in admitted)
    assert len({e["id"] for e in admitted}) == 10

    view = await session_as(client, sid, people.teacher)
    assert (view["enrolledCount"], view["seatsAvailable"]) == (10, 0)
    listed = await roster(client, sid, people.teacher)
    assert listed["total"] == 10
    assert {e["id"] for e in listed["enrollments"]} == {e["id"] for e in admitted}
    assert {e["userId"] for e in listed["enrollments"]} == {e["userId"] for e in admitted}


async def test_concurrent_duplicate_enrollments_make_one(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=10))["id"]
    responses = await asyncio.gather(*(enroll(client, sid, people.student) for _ in range(10)))
    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200] * 9 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    view = await session_as(client, sid, people.student)
    assert view["enrolledCount"] == 1
    assert view["isEnrolled"] is True
    assert (await roster(client, sid, people.teacher))["total"] == 1


async def test_concurrent_duplicate_enrollments_for_the_last_seat(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    """The student who takes the only seat is enrolled, not 'full', on every retry."""
    sid = (await new_session(maxParticipants=1))["id"]
    responses = await asyncio.gather(*(enroll(client, sid, people.student) for _ in range(10)))
    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200] * 9 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert (await session_as(client, sid, people.teacher))["enrolledCount"] == 1
    error_of(await enroll(client, sid, people.student2), 409, "session_full")


# -- DELETE /sessions/{ref}/enroll ----------------------------------------------------------


async def test_unenroll_cancels_and_frees_the_seat(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(roomName="geometry-1", maxParticipants=3))["id"]
    enrolled = (await enroll(client, sid, people.student)).json()
    assert (await enroll(client, sid, people.student2)).status_code == 201

    response = await unenroll(client, "geometry-1", people.student)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == enrolled["id"]
    assert body["sessionId"] == sid
    assert body["userId"] == "student-1"
    assert body["status"] == "cancelled"
    assert body["enrolledAt"] == enrolled["enrolledAt"]
    cancelled_at = datetime.fromisoformat(body["cancelledAt"])
    assert cancelled_at >= datetime.fromisoformat(enrolled["enrolledAt"])
    assert abs(datetime.now(UTC) - cancelled_at) < timedelta(minutes=1)

    view = await session_as(client, sid, people.student)
    assert (view["enrolledCount"], view["seatsAvailable"]) == (1, 2)
    assert view["isEnrolled"] is False
    assert view["canEnroll"] is True
    users = [e["userId"] for e in (await roster(client, sid, people.teacher))["enrollments"]]
    assert users == ["student-2"]


async def test_unenroll_when_not_enrolled_is_404(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    assert (await enroll(client, sid, people.student2)).status_code == 201
    error_of(await unenroll(client, sid, people.student), 404, "not_enrolled")
    assert (await unenroll(client, sid, people.student2)).status_code == 200
    error_of(await unenroll(client, sid, people.student2), 404, "not_enrolled")
    error_of(await unenroll(client, sid, people.outsider), 404, "session_not_found")
    error_of(await client.delete(f"{API}/sessions/{sid}/enroll"), 401, "missing_token")
    assert (await session_as(client, sid, people.teacher))["enrolledCount"] == 0


async def test_unenroll_after_the_session_ended_is_409_and_after_a_cancellation_404(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    ended = (await new_session(maxParticipants=3))["id"]
    assert (await enroll(client, ended, people.student)).status_code == 201
    await transition(client, ended, "start", people.teacher)
    await transition(client, ended, "end", people.teacher)
    error = error_of(await unenroll(client, ended, people.student), 409, "invalid_state")
    assert error["details"] == {"status": "ended"}
    assert (await session_as(client, ended, people.student))["isEnrolled"] is True

    assert (await session_as(client, ended, people.teacher))["enrolledCount"] == 1
    assert (await roster(client, ended, people.teacher))["total"] == 1

    # cancelling cancels the enrollments (see test_cancellation.py): nothing left to unenroll
    cancelled = (await new_session(maxParticipants=3))["id"]
    assert (await enroll(client, cancelled, people.student)).status_code == 201
    await transition(client, cancelled, "cancel", people.teacher)
    error_of(await unenroll(client, cancelled, people.student), 404, "not_enrolled")
    assert (await session_as(client, cancelled, people.teacher))["enrolledCount"] == 0
    assert (await roster(client, cancelled, people.teacher))["total"] == 0


async def test_unenroll_from_a_live_session(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(start=True, maxParticipants=3))["id"]
    assert (await enroll(client, sid, people.student)).status_code == 201
    response = await unenroll(client, sid, people.student)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert (await session_as(client, sid, people.teacher))["enrolledCount"] == 0


async def test_re_enrolling_after_unenrolling_creates_a_new_enrollment(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    first = (await enroll(client, sid, people.student)).json()
    assert (await unenroll(client, sid, people.student)).status_code == 200
    again = await enroll(client, sid, people.student)
    assert again.status_code == 201, again.text
    second = again.json()
    assert second["id"] != first["id"]
    assert second["status"] == "active"
    assert second["cancelledAt"] is None
    assert second["enrolledCount"] == 1
    assert (await session_as(client, sid, people.student))["enrolledCount"] == 1
    listed = (await roster(client, sid, people.teacher))["enrollments"]
    assert [e["id"] for e in listed] == [second["id"]]


async def test_concurrent_unenrollments_free_one_seat(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    assert (await enroll(client, sid, people.student)).status_code == 201
    assert (await enroll(client, sid, people.student2)).status_code == 201
    responses = await asyncio.gather(*(unenroll(client, sid, people.student) for _ in range(8)))
    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200] + [404] * 7, [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 404):
        error_of(refused, 404, "not_enrolled")
    view = await session_as(client, sid, people.teacher)
    assert (view["enrolledCount"], view["seatsAvailable"]) == (1, 2)
    users = [e["userId"] for e in (await roster(client, sid, people.teacher))["enrollments"]]
    assert users == ["student-2"]


# -- GET /sessions/{ref}/enrollments --------------------------------------------------------


async def test_enrollment_list_is_for_the_instructor_and_admins(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(roomName="calculus-2", maxParticipants=10))["id"]
    third = bearer("student-3", "student", name="Tom Third")
    order = [people.student2, third, people.student, bearer("student-4", "student")]
    made = []
    for headers in order:
        response = await enroll(client, sid, headers)
        assert response.status_code == 201, response.text
        made.append(response.json())
    assert (await unenroll(client, sid, order[3])).status_code == 200
    active = made[:3]
    position = {e["id"]: i for i, e in enumerate(active)}

    for viewer in (people.teacher, people.admin):
        listed = await roster(client, "calculus-2", viewer)
        entries = listed["enrollments"]
        assert listed["total"] == 3
        assert {e["id"] for e in entries} == set(position)
        assert all(e["status"] == "active" and e["sessionId"] == sid for e in entries)
        # Enrollment order: by enrolledAt (stamped in milliseconds; equal stamps keep the
        # order they were made in only by chance, so they are compared as a group).
        # (Compared as instants: a stamp on a whole second is written without a fraction,
        # "…:11Z", which sorts after "…:11.006Z" as text.)
        times = [datetime.fromisoformat(e["enrolledAt"]) for e in entries]
        assert times == sorted(times)
        regrouped = sorted(
            entries, key=lambda e: (datetime.fromisoformat(e["enrolledAt"]), position[e["id"]])
        )
        assert [e["userId"] for e in regrouped] == ["student-2", "student-3", "student-1"]
        by_id = {e["id"]: e for e in entries}
        assert by_id[made[1]["id"]]["userName"] == "Tom Third"
        assert all(by_id[e["id"]]["enrolledAt"] == e["enrolledAt"] for e in active)

    for student in (people.student, people.student2, people.other_teacher):
        response = await client.get(f"{API}/sessions/{sid}/enrollments", headers=student)
        error_of(response, 403, "not_session_owner")
    for stranger in (people.outsider, people.outsider_admin):
        response = await client.get(f"{API}/sessions/{sid}/enrollments", headers=stranger)
        error_of(response, 404, "session_not_found")
    error_of(await client.get(f"{API}/sessions/{sid}/enrollments"), 401, "missing_token")


# -- GET /me/sessions -----------------------------------------------------------------------


async def test_my_sessions_are_the_instructors_own(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    mine = [
        await new_session(title="Late", scheduledStart=at(3), scheduledEnd=at(4)),
        await new_session(title="Early", scheduledStart=at(1), scheduledEnd=at(2)),
        await new_session(title="Middle", scheduledStart=at(2), scheduledEnd=at(3)),
    ]
    theirs = await new_session(
        title="Not mine", scheduledStart=at(0), scheduledEnd=at(1), as_=people.other_teacher
    )
    response = await client.get(f"{API}/me/sessions", headers=people.teacher)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 3
    assert (body["limit"], body["offset"], body["page"], body["totalPages"]) == (20, 0, 1, 1)
    assert [s["title"] for s in body["sessions"]] == ["Early", "Middle", "Late"]
    assert {s["id"] for s in body["sessions"]} == {s["id"] for s in mine}
    assert all(s["instructorId"] == "teacher-1" for s in body["sessions"])
    assert all(s["isInstructor"] is True and s["canStart"] is True for s in body["sessions"])

    other = (await client.get(f"{API}/me/sessions", headers=people.other_teacher)).json()
    assert other["total"] == 1
    assert [s["id"] for s in other["sessions"]] == [theirs["id"]]
    # An admin teaches too; the tenant's other sessions are not "theirs".
    admins = await client.get(f"{API}/me/sessions", headers=people.admin)
    assert admins.status_code == 200, admins.text
    assert (admins.json()["total"], admins.json()["sessions"]) == (0, [])
    # Another tenant's instructor with the same user id sees nothing of acme's.
    twin = bearer("teacher-1", "instructor", "globex")
    twins = (await client.get(f"{API}/me/sessions", headers=twin)).json()
    assert (twins["total"], twins["sessions"]) == (0, [])


async def test_my_sessions_status_filter(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    live = await new_session(title="Live", start=True)
    cancelled = await new_session(title="Cancelled", scheduledStart=at(2), scheduledEnd=at(3))
    await transition(client, cancelled["id"], "cancel", people.teacher)
    scheduled = await new_session(title="Scheduled", scheduledStart=at(1), scheduledEnd=at(2))
    ended = await new_session(title="Ended", start=True)
    await transition(client, ended["id"], "end", people.teacher)
    await new_session(title="Theirs", start=True, as_=people.other_teacher)

    expected = {
        "live": live["id"],
        "scheduled": scheduled["id"],
        "cancelled": cancelled["id"],
        "ended": ended["id"],
    }
    for status, sid in expected.items():
        response = await client.get(
            f"{API}/me/sessions", params={"status": status}, headers=people.teacher
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 1, (status, body)
        assert [(s["id"], s["status"]) for s in body["sessions"]] == [(sid, status)]
    all_mine = (await client.get(f"{API}/me/sessions", headers=people.teacher)).json()
    assert all_mine["total"] == 4
    bad = await client.get(f"{API}/me/sessions", params={"status": "over"}, headers=people.teacher)
    error_of(bad, 422, "validation_failed")


async def test_my_sessions_pagination(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    ids = [
        (await new_session(title=f"Lesson {i}", scheduledStart=at(i), scheduledEnd=at(i + 1)))["id"]
        for i in range(5)
    ]

    async def page(**params: str | int) -> dict[str, Any]:
        response = await client.get(f"{API}/me/sessions", params=params, headers=people.teacher)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = await page(limit=2)
    assert (first["total"], first["limit"], first["offset"], first["page"]) == (5, 2, 0, 1)
    assert first["totalPages"] == 3
    assert [s["id"] for s in first["sessions"]] == ids[0:2]

    by_offset = await page(limit=2, offset=2)
    assert (by_offset["offset"], by_offset["page"], by_offset["totalPages"]) == (2, 2, 3)
    assert [s["id"] for s in by_offset["sessions"]] == ids[2:4]

    last = await page(limit=2, page=3)
    assert (last["offset"], last["page"], last["total"]) == (4, 3, 5)
    assert [s["id"] for s in last["sessions"]] == ids[4:5]

    beyond = await page(limit=2, page=4)
    assert (beyond["sessions"], beyond["total"], beyond["totalPages"]) == ([], 5, 3)

    for bad in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"offset": -1}):
        response = await client.get(f"{API}/me/sessions", params=bad, headers=people.teacher)
        error_of(response, 422, "validation_failed")


async def test_my_sessions_is_for_teachers(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    await new_session()
    for student in (people.student, people.outsider):
        response = await client.get(f"{API}/me/sessions", headers=student)
        error_of(response, 403, "role_forbidden")
    error_of(await client.get(f"{API}/me/sessions"), 401, "missing_token")


# -- GET /me/bookings -----------------------------------------------------------------------


async def test_my_bookings_are_my_active_enrollments(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    later = await new_session(title="Later", scheduledStart=at(3), scheduledEnd=at(4))
    sooner = await new_session(title="Sooner", scheduledStart=at(1), scheduledEnd=at(2))
    dropped = await new_session(title="Dropped", scheduledStart=at(2), scheduledEnd=at(3))
    untouched = await new_session(title="Untouched", scheduledStart=at(0), scheduledEnd=at(1))
    for session in (later, sooner, dropped):
        assert (await enroll(client, session["id"], people.student)).status_code == 201
    assert (await unenroll(client, dropped["id"], people.student)).status_code == 200
    assert (await enroll(client, later["id"], people.student2)).status_code == 201

    # The same user id in another tenant, with its own booking there.
    twin = bearer("student-1", "student", "globex")
    globex = await new_session(title="Globex class", as_=people.outsider_admin)
    assert (await enroll(client, globex["id"], twin)).status_code == 201

    response = await client.get(f"{API}/me/bookings", headers=people.student)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2
    assert (body["limit"], body["offset"], body["page"], body["totalPages"]) == (20, 0, 1, 1)
    assert [b["session"]["title"] for b in body["bookings"]] == ["Sooner", "Later"]
    for booking in body["bookings"]:
        enrollment, session = booking["enrollment"], booking["session"]
        assert enrollment["userId"] == "student-1"
        assert enrollment["status"] == "active"
        assert enrollment["cancelledAt"] is None
        assert enrollment["sessionId"] == session["id"]
        assert session["tenantId"] == "acme"
        assert session["isEnrolled"] is True
        assert session["canEnroll"] is False
        assert session["isInstructor"] is False
    counts = {b["session"]["id"]: b["session"]["enrolledCount"] for b in body["bookings"]}
    assert counts == {sooner["id"]: 1, later["id"]: 2}
    assert untouched["id"] not in counts

    twins = (await client.get(f"{API}/me/bookings", headers=twin)).json()
    assert twins["total"] == 1
    assert [b["session"]["id"] for b in twins["bookings"]] == [globex["id"]]

    nobody = (await client.get(f"{API}/me/bookings", headers=bearer("student-7"))).json()
    assert (nobody["bookings"], nobody["total"], nobody["totalPages"], nobody["page"]) == (
        [],
        0,
        0,
        1,
    )
    error_of(await client.get(f"{API}/me/bookings"), 401, "missing_token")


async def test_my_bookings_status_filter_and_pagination(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    first = await new_session(title="First", scheduledStart=at(-0.5), scheduledEnd=at(1))
    second = await new_session(title="Second", scheduledStart=at(1), scheduledEnd=at(2))
    third = await new_session(title="Third", scheduledStart=at(2), scheduledEnd=at(3))
    for session in (first, second, third):
        assert (await enroll(client, session["id"], people.student)).status_code == 201
    await transition(client, first["id"], "start", people.teacher)

    async def bookings(**params: str | int) -> dict[str, Any]:
        response = await client.get(f"{API}/me/bookings", params=params, headers=people.student)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    live = await bookings(status="live")
    assert live["total"] == 1
    assert [(b["session"]["id"], b["session"]["status"]) for b in live["bookings"]] == [
        (first["id"], "live")
    ]
    assert live["bookings"][0]["session"]["canJoin"] is True
    scheduled = await bookings(status="scheduled")
    assert [b["session"]["id"] for b in scheduled["bookings"]] == [second["id"], third["id"]]
    assert (await bookings(status="ended"))["total"] == 0

    await transition(client, first["id"], "end", people.teacher)
    ended = await bookings(status="ended")
    assert [b["session"]["id"] for b in ended["bookings"]] == [first["id"]]

    page1 = await bookings(limit=2)
    assert (page1["total"], page1["limit"], page1["offset"], page1["page"]) == (3, 2, 0, 1)
    assert page1["totalPages"] == 2
    assert [b["session"]["title"] for b in page1["bookings"]] == ["First", "Second"]
    page2 = await bookings(limit=2, page=2)
    assert (page2["offset"], page2["page"], page2["totalPages"]) == (2, 2, 2)
    assert [b["session"]["title"] for b in page2["bookings"]] == ["Third"]
    by_offset = await bookings(limit=1, offset=1)
    assert (by_offset["page"], by_offset["totalPages"]) == (2, 3)
    assert [b["session"]["title"] for b in by_offset["bookings"]] == ["Second"]

    bad = await client.get(f"{API}/me/bookings", params={"limit": 0}, headers=people.student)
    error_of(bad, 422, "validation_failed")


# -- POST /sessions/{ref}/feedback ----------------------------------------------------------


async def feedback(
    client: httpx.AsyncClient, ref: str, headers: dict[str, str], body: Any
) -> httpx.Response:
    return await client.post(f"{API}/sessions/{ref}/feedback", headers=headers, json=body)


async def feedback_rows(services: Services, session_id: str) -> list[FeedbackRow]:
    async with services.database.transaction() as tx:
        rows = await tx.execute(select(FeedbackRow).where(FeedbackRow.session_id == session_id))
        return list(rows.scalars())


async def test_feedback_opens_when_the_session_ended(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    assert (await enroll(client, sid, people.student)).status_code == 201
    error = error_of(
        await feedback(client, sid, people.student, {"rating": 5}), 409, "invalid_state"
    )
    assert error["details"] == {"status": "scheduled"}
    await transition(client, sid, "start", people.teacher)
    error = error_of(
        await feedback(client, sid, people.student, {"rating": 5}), 409, "invalid_state"
    )
    assert error["details"] == {"status": "live"}
    assert await feedback_rows(services, sid) == []

    cancelled = (await new_session(maxParticipants=3))["id"]
    assert (await enroll(client, cancelled, people.student)).status_code == 201
    await transition(client, cancelled, "cancel", people.teacher)
    error = error_of(
        await feedback(client, cancelled, people.student, {"rating": 5}), 409, "invalid_state"
    )
    assert error["details"] == {"status": "cancelled"}


async def test_enrolled_student_rates_and_revises(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    sid = (await new_session(roomName="history-1", maxParticipants=3))["id"]
    assert (await enroll(client, sid, people.student)).status_code == 201
    await transition(client, sid, "start", people.teacher)
    await transition(client, sid, "end", people.teacher)

    first = await feedback(client, sid, people.student, {"rating": 4, "comment": "Clear."})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["sessionId"], body["userId"]) == (sid, "student-1")
    assert (body["rating"], body["comment"]) == (4, "Clear.")
    rows = await feedback_rows(services, sid)
    assert [(r.user_id, r.rating, r.comment) for r in rows] == [("student-1", 4, "Clear.")]
    record_id = rows[0].id

    revised = await feedback(client, "history-1", people.student, {"rating": 2})
    assert revised.status_code == 200, revised.text
    again = revised.json()
    assert (again["sessionId"], again["userId"]) == (sid, "student-1")
    assert (again["rating"], again["comment"]) == (2, None)
    assert datetime.fromisoformat(again["updatedAt"]) >= datetime.fromisoformat(body["updatedAt"])
    rows = await feedback_rows(services, sid)
    assert [(r.id, r.user_id, r.rating, r.comment) for r in rows] == [
        (record_id, "student-1", 2, None)
    ]


async def test_feedback_from_non_participants_is_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    assert (await enroll(client, sid, people.student)).status_code == 201
    # Enrolled once, then cancelled, never in the room: not a participant.
    assert (await enroll(client, sid, people.student2)).status_code == 201
    assert (await unenroll(client, sid, people.student2)).status_code == 200
    await transition(client, sid, "start", people.teacher)
    await transition(client, sid, "end", people.teacher)

    for member in (people.student2, bearer("student-5", "student"), people.other_teacher):
        response = await feedback(client, sid, member, {"rating": 5})
        error_of(response, 403, "not_a_participant")
    error_of(await feedback(client, sid, people.outsider, {"rating": 5}), 404, "session_not_found")
    response = await client.post(f"{API}/sessions/{sid}/feedback", json={"rating": 5})
    error_of(response, 401, "missing_token")
    assert await feedback_rows(services, sid) == []
    assert (await feedback(client, sid, people.student, {"rating": 5})).status_code == 200
    assert [r.user_id for r in await feedback_rows(services, sid)] == ["student-1"]


async def test_an_attendee_without_enrollment_may_give_feedback(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    sid = (await new_session(start=True, maxParticipants=3))["id"]
    joined = await client.post(f"{API}/sessions/{sid}/join", headers=people.student2)
    assert joined.status_code == 200, joined.text
    assert (await session_as(client, sid, people.student2))["isEnrolled"] is False
    await transition(client, sid, "end", people.teacher)

    response = await feedback(client, sid, people.student2, {"rating": 3, "comment": "Ok"})
    assert response.status_code == 200, response.text
    assert (response.json()["userId"], response.json()["rating"]) == ("student-2", 3)
    # Someone who never joined is still refused.
    error_of(await feedback(client, sid, people.student, {"rating": 3}), 403, "not_a_participant")
    rows = await feedback_rows(services, sid)
    assert [(r.user_id, r.rating, r.comment) for r in rows] == [("student-2", 3, "Ok")]


@pytest.mark.parametrize(
    "body",
    [
        {"rating": 0},
        {"rating": 6},
        {"rating": -1},
        {"comment": "no rating"},
        {"rating": 3, "comment": "x" * 5001},
        {"rating": 3, "stars": 3},
    ],
    ids=["zero", "six", "negative", "missing", "long-comment", "unknown-field"],
)
async def test_invalid_feedback_is_422(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    services: Services,
    body: Any,
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    assert (await enroll(client, sid, people.student)).status_code == 201
    await transition(client, sid, "start", people.teacher)
    await transition(client, sid, "end", people.teacher)
    error = error_of(await feedback(client, sid, people.student, body), 422, "validation_failed")
    assert error["details"]
    assert await feedback_rows(services, sid) == []


async def test_concurrent_first_feedback_makes_one_record(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    sid = (await new_session(maxParticipants=3))["id"]
    assert (await enroll(client, sid, people.student)).status_code == 201
    await transition(client, sid, "start", people.teacher)
    await transition(client, sid, "end", people.teacher)
    responses = await asyncio.gather(
        *(feedback(client, sid, people.student, {"rating": r}) for r in (1, 2, 3, 4, 5, 1, 2, 3))
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    rows = await feedback_rows(services, sid)
    assert len(rows) == 1
    assert rows[0].rating in {1, 2, 3, 4, 5}


async def test_enrollment_rows_match_the_seat_count(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    """Mixed concurrent enrolls and unenrolls leave enrolledCount equal to the active rows."""
    sid = (await new_session(maxParticipants=6))["id"]
    students = crowd(12, "mix")
    for headers in students[:4]:
        assert (await enroll(client, sid, headers)).status_code == 201
    calls = [unenroll(client, sid, h) for h in students[:4]] + [
        enroll(client, sid, h) for h in students[4:]
    ]
    responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses[:4]] == [200] * 4, [r.text for r in responses]
    enrolled = sorted(r.json()["userId"] for r in responses[4:] if r.status_code == 201)
    for refused in (r for r in responses[4:] if r.status_code != 201):
        error_of(refused, 409, "session_full")
    # At least the 2 seats that were free all along are taken, at most all 6.
    assert 2 <= len(enrolled) <= 6, [r.text for r in responses]
    async with services.database.transaction() as tx:
        active = (
            await tx.execute(
                select(EnrollmentRow.user_id).where(
                    EnrollmentRow.session_id == sid, EnrollmentRow.status == "active"
                )
            )
        ).scalars()
        active_users = sorted(active)
    assert active_users == enrolled
    view = await session_as(client, sid, people.teacher)
    assert view["enrolledCount"] == len(active_users)
    assert active_users == sorted(
        e["userId"] for e in (await roster(client, sid, people.teacher))["enrollments"]
    )
