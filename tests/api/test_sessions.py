"""The sessions resource: create, read, list, edit, delete and the lifecycle transitions.

Every test runs on both backends (SQLite + fakeredis, PostgreSQL + Redis).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.schemas.sessions import SessionOut
from api.services import Services
from api.settings import Settings
from rooms.store.tables import AttendanceRow, ChatMessageRow, EnrollmentRow, SessionRow
from tests.conftest import FakeClock, People

NewSession = Callable[..., Awaitable[dict[str, Any]]]

URL = "/api/v1/sessions"
BASE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
STATES = ["scheduled", "live", "ended", "cancelled"]
ACTIONS = ["start", "end", "cancel"]
ALLOWED = {
    ("scheduled", "start"): "live",
    ("live", "end"): "ended",
    ("scheduled", "cancel"): "cancelled",
}
FORBIDDEN = [(s, a) for s in STATES for a in ACTIONS if (s, a) not in ALLOWED]
FLAGS = [
    "canEdit",
    "canStart",
    "canEnd",
    "canCancel",
    "canJoin",
    "canEnroll",
    "isInstructor",
    "isEnrolled",
]


# -- helpers ---------------------------------------------------------------------------------


def iso(value: datetime) -> str:
    return value.isoformat()


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def at(*, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    return BASE + timedelta(days=days, hours=hours, minutes=minutes)


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The ``error`` member of an error response, after checking status, shape and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    result: dict[str, Any] = body["error"]
    return result


def flags(session: dict[str, Any]) -> dict[str, bool]:
    return {name: session[name] for name in FLAGS}


def expect_flags(**true: bool) -> dict[str, bool]:
    """Every permission flag False except those named."""
    result = dict.fromkeys(FLAGS, False)
    result.update(true)
    return result


def ids(listing: dict[str, Any]) -> list[str]:
    return [s["id"] for s in listing["sessions"]]


def paging(listing: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """total, limit, offset, page, totalPages."""
    body = listing
    return body["total"], body["limit"], body["offset"], body["page"], body["totalPages"]


async def get(client: httpx.AsyncClient, ref: str, who: dict[str, str]) -> httpx.Response:
    return await client.get(f"{URL}/{ref}", headers=who)


async def act(
    client: httpx.AsyncClient, ref: str, action: str, who: dict[str, str]
) -> httpx.Response:
    return await client.post(f"{URL}/{ref}/{action}", headers=who)


async def session_in(
    state: str, client: httpx.AsyncClient, people: People, new_session: NewSession, **fields: Any
) -> dict[str, Any]:
    """A fresh session of people.teacher in ``state``."""
    session = await new_session(start=state in ("live", "ended"), **fields)
    if state in ("ended", "cancelled"):
        action = "end" if state == "ended" else "cancel"
        response = await act(client, session["id"], action, people.teacher)
        assert response.status_code == 200, response.text
        session = response.json()
    assert session["status"] == state
    return session


async def listing(
    client: httpx.AsyncClient, who: dict[str, str] | None, **params: Any
) -> httpx.Response:
    return await client.get(URL, params=params, headers=who or {})


async def count_rows(services: Services, table: Any, session_id: str) -> int:
    async with services.database.transaction() as tx:
        value = await tx.scalar(
            select(func.count()).select_from(table).where(table.session_id == session_id)
        )
    return int(value or 0)


@asynccontextmanager
async def app_client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app built with ``settings`` (like conftest's ``client``)."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


# -- POST /sessions --------------------------------------------------------------------------


async def test_create_with_defaults(client: httpx.AsyncClient, people: People) -> None:
    before = datetime.now(UTC)
    response = await client.post(URL, json={"title": "Algebra I"}, headers=people.teacher)
    after = datetime.now(UTC)
    assert response.status_code == 201, response.text
    s = response.json()

    assert set(s) == set(SessionOut.model_fields)
    assert uuid.UUID(s["id"]).version == 4
    assert re.fullmatch(r"algebra-i-[0-9a-f]{6}", s["roomName"]), s["roomName"]
    start, end = when(s["scheduledStart"]), when(s["scheduledEnd"])
    assert before - timedelta(seconds=1) <= start <= after
    assert end - start == timedelta(minutes=60)
    assert s["scheduledDuration"] == 60
    assert when(s["createdAt"]) == when(s["updatedAt"])
    assert before - timedelta(seconds=1) <= when(s["createdAt"]) <= after
    expected = {
        "tenantId": "acme",
        "title": "Algebra I",
        "description": "",
        "sessionType": "group",
        "courseId": None,
        "status": "scheduled",
        "instructor": {"id": "teacher-1", "name": "Tina Teacher", "avatar": None},
        "instructorId": "teacher-1",
        "startedAt": None,
        "endedAt": None,
        "cancelledAt": None,
        "duration": None,
        "maxParticipants": 100,
        "enrolledCount": 0,
        "seatsAvailable": 100,
        "activeCount": 0,
        "attendedCount": 0,
        "price": 0.0,
        "currency": None,
        "isFree": True,
        "requiresEnrollment": False,
        "thumbnail": None,
        "metadata": {},
        "featured": False,
        "recordingUrl": None,
        "recordingAvailable": False,
        "joinUrl": f"http://testserver/classroom/{s['id']}",
    }
    assert {k: s[k] for k in expected} == expected
    assert flags(s) == expect_flags(canEdit=True, canStart=True, canCancel=True, isInstructor=True)

    # What was stored reads back identically.
    read = await get(client, s["id"], people.teacher)
    assert read.status_code == 200
    assert read.json() == s


async def test_create_round_trips_every_optional_field(
    client: httpx.AsyncClient, people: People
) -> None:
    body = {
        "title": "  Calculus Workshop  ",
        "description": "Limits, derivatives and a little integration.",
        "sessionType": "workshop",
        "roomName": "calc-workshop",
        "scheduledStart": "2030-03-01T10:00:00+02:00",
        "scheduledEnd": "2030-03-01T11:30:00+02:00",
        "maxParticipants": 25,
        "price": 19.99,
        "currency": "EUR",
        "thumbnail": "https://cdn.example.com/calc.png",
        "metadata": {"level": "beginner", "tags": ["math", "calc"], "week": 3},
        "featured": True,
        "requiresEnrollment": True,
        "courseId": "course-42",
    }
    response = await client.post(URL, json=body, headers=people.teacher)
    assert response.status_code == 201, response.text
    s = response.json()
    expected = {
        "title": "Calculus Workshop",
        "description": body["description"],
        "sessionType": "workshop",
        "roomName": "calc-workshop",
        "maxParticipants": 25,
        "seatsAvailable": 25,
        "price": 19.99,
        "currency": "EUR",
        "isFree": False,
        "thumbnail": "https://cdn.example.com/calc.png",
        "metadata": {"level": "beginner", "tags": ["math", "calc"], "week": 3},
        "featured": True,
        "requiresEnrollment": True,
        "courseId": "course-42",
        "scheduledDuration": 90,
    }
    assert {k: s[k] for k in expected} == expected
    assert when(s["scheduledStart"]) == datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
    assert when(s["scheduledEnd"]) == datetime(2030, 3, 1, 9, 30, tzinfo=UTC)
    assert s["scheduledStart"].endswith("Z")

    read = await get(client, "calc-workshop", people.student)
    assert read.status_code == 200
    stored = read.json()
    assert {k: stored[k] for k in expected} == expected
    assert stored["scheduledStart"] == s["scheduledStart"]
    assert stored["scheduledEnd"] == s["scheduledEnd"]


async def test_create_with_start_only_lasts_an_hour(
    client: httpx.AsyncClient, people: People
) -> None:
    response = await client.post(
        URL, json={"title": "T", "scheduledStart": iso(at())}, headers=people.teacher
    )
    assert response.status_code == 201, response.text
    assert when(response.json()["scheduledStart"]) == at()
    assert when(response.json()["scheduledEnd"]) == at(hours=1)


@pytest.mark.parametrize("capacity", [1, 500])
async def test_create_capacity_bounds_accepted(
    client: httpx.AsyncClient, people: People, capacity: int
) -> None:
    response = await client.post(
        URL, json={"title": "T", "maxParticipants": capacity}, headers=people.teacher
    )
    assert response.status_code == 201, response.text
    assert response.json()["maxParticipants"] == capacity


async def test_create_six_hour_window_is_the_limit(
    client: httpx.AsyncClient, people: People
) -> None:
    six = {"title": "Long", "scheduledStart": iso(at()), "scheduledEnd": iso(at(hours=6))}
    response = await client.post(URL, json=six, headers=people.teacher)
    assert response.status_code == 201, response.text
    assert response.json()["scheduledDuration"] == 360

    longer = {**six, "scheduledEnd": iso(at(hours=6, minutes=1))}
    err = error(
        await client.post(URL, json=longer, headers=people.teacher), 422, "validation_failed"
    )
    assert "6 hours" in err["message"]


async def test_admin_creates_sessions(client: httpx.AsyncClient, people: People) -> None:
    response = await client.post(URL, json={"title": "Staff meeting"}, headers=people.admin)
    assert response.status_code == 201, response.text
    s = response.json()
    assert s["instructorId"] == "admin-1"
    assert s["instructor"]["name"] == "Ada Admin"
    assert flags(s) == expect_flags(canEdit=True, canStart=True, canCancel=True, isInstructor=True)


async def test_students_cannot_create(client: httpx.AsyncClient, people: People) -> None:
    response = await client.post(URL, json={"title": "Mine"}, headers=people.student)
    error(response, 403, "role_forbidden")
    listed = await listing(client, people.teacher)
    assert listed.json()["total"] == 0


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer not-a-jwt"}, "invalid_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_token"),
    ],
    ids=["none", "garbage", "wrong-scheme"],
)
async def test_create_needs_a_valid_token(
    client: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    response = await client.post(URL, json={"title": "T"}, headers=headers)
    error(response, 401, code)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def _naive(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat()


INVALID_DRAFTS: list[tuple[str, dict[str, Any], str | None]] = [
    ("capacity-0", {"maxParticipants": 0}, "maxParticipants"),
    ("capacity-501", {"maxParticipants": 501}, "maxParticipants"),
    (
        "end-before-start",
        {"scheduledStart": iso(at(hours=2)), "scheduledEnd": iso(at(hours=1))},
        None,
    ),
    ("end-equals-start", {"scheduledStart": iso(at()), "scheduledEnd": iso(at())}, None),
    ("naive-start", {"scheduledStart": _naive(at())}, "scheduledStart"),
    (
        "naive-end",
        {"scheduledStart": iso(at()), "scheduledEnd": _naive(at(hours=1))},
        "scheduledEnd",
    ),
    ("start-too-late", {"scheduledStart": "9999-12-31T23:30:00Z"}, "scheduledStart"),
    ("start-out-of-range", {"scheduledStart": "0001-01-01T00:00:00+05:00"}, "scheduledStart"),
    ("price-without-currency", {"price": 10}, None),
    ("negative-price", {"price": -1, "currency": "USD"}, "price"),
    ("currency-lowercase", {"price": 10, "currency": "usd"}, "currency"),
    ("currency-short", {"price": 10, "currency": "US"}, "currency"),
    ("currency-long", {"price": 10, "currency": "EURO"}, "currency"),
    ("room-too-short", {"roomName": "ab"}, "roomName"),
    ("room-uppercase", {"roomName": "Algebra-Room"}, "roomName"),
    ("room-underscore", {"roomName": "algebra_room"}, "roomName"),
    ("room-leading-dash", {"roomName": "-algebra"}, "roomName"),
    ("room-too-long", {"roomName": "a" * 64}, "roomName"),
    ("room-looks-like-id", {"roomName": "0b9d6c1e-3f7a-4c2e-9a51-7d2f8e4b6a10"}, "roomName"),
    ("unknown-field", {"colour": "blue"}, "colour"),
    ("title-empty", {"title": ""}, "title"),
    ("title-blank", {"title": "   "}, "title"),
    ("title-too-long", {"title": "x" * 201}, "title"),
    ("title-missing", {"title": None}, "title"),  # None: the body has no title at all
    ("thumbnail-not-http", {"thumbnail": "ftp://example.com/a.png"}, "thumbnail"),
    ("bad-session-type", {"sessionType": "lecture"}, "sessionType"),
    ("metadata-not-object", {"metadata": [1, 2]}, "metadata"),
]


@pytest.mark.parametrize(
    ("fields", "field"),
    [(fields, field) for _, fields, field in INVALID_DRAFTS],
    ids=[name for name, _, _ in INVALID_DRAFTS],
)
async def test_create_rejects_invalid_fields(
    client: httpx.AsyncClient, people: People, fields: dict[str, Any], field: str | None
) -> None:
    body = {"title": "Algebra I", **fields}
    if body["title"] is None:
        del body["title"]
    err = error(await client.post(URL, json=body, headers=people.teacher), 422, "validation_failed")
    if field is not None:
        assert field in [d["field"] for d in err["details"]], err
    listed = await listing(client, people.teacher)
    assert listed.json()["total"] == 0


async def test_create_title_at_max_length(client: httpx.AsyncClient, people: People) -> None:
    response = await client.post(URL, json={"title": "x" * 200}, headers=people.teacher)
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "x" * 200


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"", 400, "missing_body"),
        (b"   ", 400, "missing_body"),
        (b"[1, 2]", 422, "validation_failed"),
    ],
    ids=["invalid-json", "empty", "blank", "not-an-object"],
)
async def test_create_needs_a_json_object(
    client: httpx.AsyncClient, people: People, content: bytes, status: int, code: str
) -> None:
    headers = {**people.teacher, "Content-Type": "application/json"}
    error(await client.post(URL, content=content, headers=headers), status, code)


async def test_room_name_unique_per_tenant(client: httpx.AsyncClient, people: People) -> None:
    first = await client.post(
        URL, json={"title": "A", "roomName": "shared-room"}, headers=people.teacher
    )
    assert first.status_code == 201, first.text

    again = await client.post(
        URL, json={"title": "B", "roomName": "shared-room"}, headers=people.other_teacher
    )
    err = error(again, 409, "room_name_taken")
    assert "shared-room" in err["message"]

    elsewhere = await client.post(
        URL, json={"title": "C", "roomName": "shared-room"}, headers=people.outsider_admin
    )
    assert elsewhere.status_code == 201, elsewhere.text
    assert elsewhere.json()["tenantId"] == "globex"

    # Each tenant resolves the room name to its own session.
    mine = await get(client, "shared-room", people.student)
    theirs = await get(client, "shared-room", people.outsider)
    assert mine.json()["id"] == first.json()["id"]
    assert theirs.json()["id"] == elsewhere.json()["id"]


# -- GET /sessions/{ref} ---------------------------------------------------------------------


async def test_get_by_id_and_by_room_name(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(roomName="algebra-101")
    by_id = await get(client, s["id"], people.student)
    by_name = await get(client, "algebra-101", people.student)
    assert by_id.status_code == by_name.status_code == 200
    assert by_id.json() == by_name.json()
    assert by_id.json()["id"] == s["id"]


async def test_get_unknown_is_404(client: httpx.AsyncClient, people: People) -> None:
    error(await get(client, str(uuid.uuid4()), people.teacher), 404, "session_not_found")
    error(await get(client, "no-such-room", people.teacher), 404, "session_not_found")


@pytest.mark.parametrize("who", ["outsider", "outsider_admin"])
async def test_other_tenant_session_is_404(
    client: httpx.AsyncClient, people: People, new_session: NewSession, who: str
) -> None:
    s = await new_session(roomName="acme-only")
    caller = getattr(people, who)
    error(await get(client, s["id"], caller), 404, "session_not_found")
    error(await get(client, "acme-only", caller), 404, "session_not_found")


async def test_permission_flags_per_caller(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(requiresEnrollment=True)
    sid = s["id"]
    enrolled = await client.post(f"{URL}/{sid}/enroll", headers=people.student2)
    assert enrolled.status_code == 201, enrolled.text

    async def flags_of(who: dict[str, str]) -> dict[str, bool]:
        response = await get(client, sid, who)
        assert response.status_code == 200, response.text
        return flags(response.json())

    # Scheduled.
    assert await flags_of(people.teacher) == expect_flags(
        canEdit=True, canStart=True, canCancel=True, isInstructor=True
    )
    assert await flags_of(people.admin) == expect_flags(
        canEdit=True, canStart=True, canCancel=True, canEnroll=True
    )
    assert await flags_of(people.other_teacher) == expect_flags(canEnroll=True)
    assert await flags_of(people.student) == expect_flags(canEnroll=True)
    assert await flags_of(people.student2) == expect_flags(isEnrolled=True)

    # Live: managers may end, and whoever may enter the room may join.
    started = await act(client, sid, "start", people.teacher)
    assert started.status_code == 200
    assert await flags_of(people.teacher) == expect_flags(
        canEdit=True, canEnd=True, canJoin=True, isInstructor=True
    )
    assert await flags_of(people.admin) == expect_flags(
        canEdit=True, canEnd=True, canJoin=True, canEnroll=True
    )
    assert await flags_of(people.student) == expect_flags(canEnroll=True)
    assert await flags_of(people.student2) == expect_flags(canJoin=True, isEnrolled=True)

    # Ended: nothing left to do.
    ended = await act(client, sid, "end", people.teacher)
    assert ended.status_code == 200
    assert await flags_of(people.teacher) == expect_flags(isInstructor=True)
    assert await flags_of(people.admin) == expect_flags()
    assert await flags_of(people.student) == expect_flags()
    assert await flags_of(people.student2) == expect_flags(isEnrolled=True)


async def test_free_live_session_is_joinable_by_every_member(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(start=True)
    response = await get(client, s["id"], people.student)
    assert flags(response.json()) == expect_flags(canJoin=True, canEnroll=True)


async def test_active_and_attended_counts(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(start=True)
    sid = s["id"]
    assert s["activeCount"] == 0
    assert s["attendedCount"] == 0

    for who in (people.teacher, people.student, people.student2, people.admin):
        joined = await client.post(f"{URL}/{sid}/join", headers=who)
        assert joined.status_code == 200, joined.text

    # The host and both guests are visible; the admin observes hidden. Attended counts guests.
    read = (await get(client, sid, people.student)).json()
    assert read["activeCount"] == 3
    assert read["attendedCount"] == 2

    left = await client.post(f"{URL}/{sid}/leave", headers=people.student2)
    assert left.status_code == 200, left.text
    read = (await get(client, sid, people.student)).json()
    assert read["activeCount"] == 2
    assert read["attendedCount"] == 2

    listed = (await listing(client, people.teacher)).json()
    assert listed["sessions"][0]["activeCount"] == 2
    assert listed["sessions"][0]["attendedCount"] == 2


# -- GET /sessions ---------------------------------------------------------------------------


async def _catalogue(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> dict[str, dict[str, Any]]:
    """Four acme sessions (created out of order) and one globex session."""
    made = {
        "a": await new_session(title="A", scheduledStart=iso(at(days=2))),
        "b": await new_session(title="B", scheduledStart=iso(at())),
        "c": await new_session(title="C", scheduledStart=iso(at(days=1)), featured=True),
        "d": await new_session(title="D", scheduledStart=iso(at(days=3)), as_=people.other_teacher),
        "g": await new_session(
            title="G", scheduledStart=iso(at(hours=12)), as_=people.outsider_admin
        ),
    }
    return made


async def test_list_own_tenant_soonest_first(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    made = await _catalogue(client, people, new_session)
    response = await listing(client, people.student)
    assert response.status_code == 200, response.text
    body = response.json()
    assert ids(body) == [made[k]["id"] for k in "bcad"]
    assert {s["tenantId"] for s in body["sessions"]} == {"acme"}
    assert paging(body) == (4, 20, 0, 1, 1)
    starts = [when(s["scheduledStart"]) for s in body["sessions"]]
    assert starts == sorted(starts)

    globex = (await listing(client, people.outsider)).json()
    assert ids(globex) == [made["g"]["id"]]
    assert globex["total"] == 1


async def test_list_shows_the_callers_flags(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    made = await _catalogue(client, people, new_session)
    enrolled = await client.post(f"{URL}/{made['c']['id']}/enroll", headers=people.student)
    assert enrolled.status_code == 201

    teacher = {s["title"]: s for s in (await listing(client, people.teacher)).json()["sessions"]}
    assert teacher["A"]["canEdit"] is True
    assert teacher["A"]["isInstructor"] is True
    assert teacher["D"]["canEdit"] is False
    assert teacher["D"]["isInstructor"] is False

    student = {s["title"]: s for s in (await listing(client, people.student)).json()["sessions"]}
    assert flags(student["C"]) == expect_flags(isEnrolled=True)
    assert student["C"]["enrolledCount"] == 1
    assert flags(student["A"]) == expect_flags(canEnroll=True)


async def test_list_filters(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    made = await _catalogue(client, people, new_session)
    assert (await act(client, made["b"]["id"], "start", people.teacher)).status_code == 200
    assert (await act(client, made["c"]["id"], "cancel", people.teacher)).status_code == 200

    async def listed(**params: Any) -> list[str]:
        response = await listing(client, people.student, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["sessions"])
        titles = [s["title"] for s in body["sessions"]]
        return titles

    assert await listed(status="live") == ["B"]
    assert await listed(status="cancelled") == ["C"]
    assert await listed(status="scheduled") == ["A", "D"]
    assert await listed(status="ended") == []
    assert await listed(instructorId="teacher-2") == ["D"]
    assert await listed(instructorId="teacher-1") == ["B", "C", "A"]
    assert await listed(instructorId="admin-9") == []
    assert await listed(featured="true") == ["C"]
    assert await listed(featured="false") == ["B", "A", "D"]
    # from/to are inclusive, in any timezone.
    assert await listed(**{"from": iso(at(days=1))}) == ["C", "A", "D"]
    assert await listed(to=iso(at(days=1))) == ["B", "C"]
    plus_two = at(days=1).astimezone(timezone(timedelta(hours=2))).isoformat()
    assert plus_two.endswith("+02:00")
    assert await listed(**{"from": plus_two}) == ["C", "A", "D"]
    assert await listed(**{"from": iso(at(hours=1)), "to": iso(at(days=2))}) == ["C", "A"]
    assert await listed(**{"from": "2030-01-08T09:00:00Z", "to": "2030-01-08T09:00:00Z"}) == ["C"]
    assert await listed(status="scheduled", instructorId="teacher-1") == ["A"]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2030-01-07T09:00:00"},
        {"to": "2030-01-07T09:00:00"},
        {"from": "2030-01-07T09:00:00Z", "to": "2030-01-08T09:00:00"},
        {"from": "yesterday"},
        {"to": "9999-12-31T23:00:00-05:00"},
        {"status": "paused"},
        {"featured": "maybe"},
        {"limit": "101"},
        {"limit": "0"},
        {"offset": "-1"},
        {"skip": "-1"},
        {"page": "0"},
    ],
    ids=[
        "naive-from",
        "naive-to",
        "naive-to-aware-from",
        "bad-from",
        "to-out-of-range",
        "bad-status",
        "bad-featured",
        "limit-101",
        "limit-0",
        "offset-negative",
        "skip-negative",
        "page-0",
    ],
)
async def test_list_rejects_bad_queries(
    client: httpx.AsyncClient, people: People, params: dict[str, str]
) -> None:
    error(await listing(client, people.student, **params), 422, "validation_failed")


async def test_list_pagination(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    made = [await new_session(title=f"S{i}", scheduledStart=iso(at(hours=i))) for i in range(5)]
    every = [s["id"] for s in made]

    async def page(**params: Any) -> dict[str, Any]:
        response = await listing(client, people.student, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["total"] == 5
        return body

    first = await page(limit=2)
    assert ids(first) == every[0:2]
    assert paging(first) == (5, 2, 0, 1, 3)

    second = await page(limit=2, offset=2)
    assert ids(second) == every[2:4]
    assert paging(second) == (5, 2, 2, 2, 3)

    skipped = await page(limit=2, skip=4)
    assert ids(skipped) == every[4:]
    assert paging(skipped) == (5, 2, 4, 3, 3)

    third = await page(limit=2, page=3)
    assert ids(third) == every[4:]
    assert paging(third) == (5, 2, 4, 3, 3)

    beyond = await page(limit=2, page=4)
    assert ids(beyond) == []
    assert paging(beyond) == (5, 2, 6, 4, 3)

    # page wins over offset, offset over skip.
    assert ids(await page(limit=2, page=2, offset=4)) == every[2:4]
    assert ids(await page(limit=2, offset=1, skip=3)) == every[1:3]

    whole = await page(limit=100)
    assert ids(whole) == every
    assert paging(whole) == (5, 100, 0, 1, 1)


async def test_list_empty(client: httpx.AsyncClient, people: People) -> None:
    body = (await listing(client, people.teacher)).json()
    assert body == {
        "sessions": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
        "page": 1,
        "totalPages": 0,
    }


async def test_anonymous_listing_needs_a_token_by_default(
    client: httpx.AsyncClient, new_session: NewSession
) -> None:
    await new_session()
    response = await listing(client, None, tenant="acme")
    error(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error(await listing(client, {"Authorization": "Bearer garbage"}), 401, "invalid_token")


async def test_public_catalogue(
    settings_factory: Callable[..., Settings], clock: FakeClock, people: People
) -> None:
    async with app_client(settings_factory(public_catalog=True), clock) as c:
        made = []
        for title, who, start in (
            ("Later", people.teacher, at(days=1)),
            ("Sooner", people.teacher, at()),
            ("Globex", people.outsider_admin, at()),
        ):
            body = {"title": title, "scheduledStart": iso(start)}
            response = await c.post(URL, json=body, headers=who)
            assert response.status_code == 201, response.text
            made.append(response.json())
        live = await act(c, made[1]["id"], "start", people.teacher)
        assert live.status_code == 200

        response = await c.get(URL, params={"tenant": "acme"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert [s["title"] for s in body["sessions"]] == ["Sooner", "Later"]
        assert body["total"] == 2
        for s in body["sessions"]:
            assert flags(s) == expect_flags(), s

        globex = (await c.get(URL, params={"tenant": "globex"})).json()
        assert [s["title"] for s in globex["sessions"]] == ["Globex"]

        filtered = (await c.get(URL, params={"tenant": "acme", "status": "live"})).json()
        assert [s["title"] for s in filtered["sessions"]] == ["Sooner"]

        error(await c.get(URL), 422, "validation_failed")
        error(await c.get(URL, params={"tenant": ""}), 422, "validation_failed")

        # With a token, the tenant parameter is ignored: callers see their own tenant.
        mine = (await c.get(URL, params={"tenant": "globex"}, headers=people.teacher)).json()
        assert [s["title"] for s in mine["sessions"]] == ["Sooner", "Later"]
        assert mine["sessions"][0]["canEnd"] is True

        # A bad token is still refused.
        error(
            await c.get(URL, params={"tenant": "acme"}, headers={"Authorization": "Bearer x"}),
            401,
            "invalid_token",
        )


# -- PATCH /sessions/{ref} -------------------------------------------------------------------


async def patch(
    client: httpx.AsyncClient, ref: str, body: dict[str, Any], who: dict[str, str]
) -> httpx.Response:
    return await client.patch(f"{URL}/{ref}", json=body, headers=who)


@pytest.mark.parametrize("who", ["teacher", "admin"])
async def test_owner_and_admin_edit(
    client: httpx.AsyncClient, people: People, new_session: NewSession, who: str
) -> None:
    s = await new_session(
        description="old", thumbnail="https://cdn.example.com/a.png", courseId="c-1"
    )
    changes = {
        "title": "Algebra II",
        "description": "new",
        "sessionType": "1-on-1",
        "maxParticipants": 12,
        "price": 5,
        "currency": "USD",
        "thumbnail": None,
        "metadata": {"room": 7},
        "featured": True,
        "requiresEnrollment": True,
        "courseId": None,
    }
    response = await patch(client, s["id"], changes, getattr(people, who))
    assert response.status_code == 200, response.text
    out = response.json()
    expected = {**changes, "price": 5.0, "isFree": False, "seatsAvailable": 12}
    assert {k: out[k] for k in expected} == expected
    # Untouched fields stay; the instructor is still the creator.
    assert out["instructorId"] == "teacher-1"
    assert out["scheduledStart"] == s["scheduledStart"]
    assert out["scheduledEnd"] == s["scheduledEnd"]
    assert out["createdAt"] == s["createdAt"]
    assert when(out["updatedAt"]) >= when(s["updatedAt"])

    stored = (await get(client, s["id"], people.student)).json()
    assert {k: stored[k] for k in expected} == expected


async def test_patch_metadata_null_clears_it(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(metadata={"a": 1})
    response = await patch(client, s["id"], {"metadata": None}, people.teacher)
    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == {}


async def test_patch_empty_body_changes_nothing(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(title="Same")
    response = await patch(client, s["id"], {}, people.teacher)
    assert response.status_code == 200, response.text
    out = response.json()
    assert {k: v for k, v in out.items() if k != "updatedAt"} == {
        k: v for k, v in s.items() if k != "updatedAt"
    }


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("other_teacher", 403, "not_session_owner"),
        ("student", 403, "not_session_owner"),
        ("outsider", 404, "session_not_found"),
        ("outsider_admin", 404, "session_not_found"),
    ],
)
async def test_patch_by_others(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    who: str,
    status: int,
    code: str,
) -> None:
    s = await new_session(title="Mine")
    response = await patch(client, s["id"], {"title": "Theirs"}, getattr(people, who))
    error(response, status, code)
    assert (await get(client, s["id"], people.teacher)).json()["title"] == "Mine"


async def test_patch_by_room_name(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    await new_session(roomName="by-name")
    response = await patch(client, "by-name", {"title": "Renamed"}, people.teacher)
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Renamed"


async def test_reschedule(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(scheduledStart=iso(at()), scheduledEnd=iso(at(minutes=90)))

    moved = await patch(client, s["id"], {"scheduledStart": iso(at(days=1))}, people.teacher)
    assert moved.status_code == 200, moved.text
    out = moved.json()
    assert when(out["scheduledStart"]) == at(days=1)
    assert when(out["scheduledEnd"]) == at(days=1, minutes=90)
    assert out["scheduledDuration"] == 90

    longer = await patch(
        client, s["id"], {"scheduledEnd": iso(at(days=1, hours=3))}, people.teacher
    )
    assert longer.status_code == 200, longer.text
    assert when(longer.json()["scheduledStart"]) == at(days=1)
    assert longer.json()["scheduledDuration"] == 180

    both = {
        "scheduledStart": "2030-02-01T10:00:00+01:00",
        "scheduledEnd": "2030-02-01T10:30:00+01:00",
    }
    response = await patch(client, s["id"], both, people.teacher)
    assert response.status_code == 200, response.text
    assert response.json()["scheduledStart"] == "2030-02-01T09:00:00Z"
    assert response.json()["scheduledEnd"] == "2030-02-01T09:30:00Z"
    assert response.json()["scheduledDuration"] == 30


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scheduledEnd": "2030-01-07T08:00:00Z"}, None),
        ({"scheduledEnd": "2030-01-07T09:00:00Z"}, None),
        ({"scheduledEnd": "2030-01-07T15:00:01Z"}, None),
        ({"scheduledStart": "2030-01-07T09:00:00"}, "scheduledStart"),
        ({"scheduledStart": "9999-12-31T20:00:00Z"}, "scheduledStart"),
        ({"scheduledStart": "2030-01-07T12:00:00Z", "scheduledEnd": "2030-01-07T11:00:00Z"}, None),
        ({"price": 10}, None),
        ({"price": 10, "currency": "dollars"}, "currency"),
        ({"maxParticipants": 0}, "maxParticipants"),
        ({"maxParticipants": 501}, "maxParticipants"),
        ({"title": " "}, "title"),
        ({"roomName": "renamed"}, "roomName"),
        ({"status": "live"}, "status"),
    ],
    ids=[
        "end-before-start",
        "end-equals-start",
        "over-six-hours",
        "naive",
        "out-of-range",
        "both-reversed",
        "price-without-currency",
        "bad-currency",
        "capacity-0",
        "capacity-501",
        "blank-title",
        "room-name-not-editable",
        "status-not-editable",
    ],
)
async def test_patch_rejects_invalid_fields(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    body: dict[str, Any],
    field: str | None,
) -> None:
    s = await new_session(scheduledStart=iso(at()), scheduledEnd=iso(at(hours=1)))
    err = error(await patch(client, s["id"], body, people.teacher), 422, "validation_failed")
    if field is not None:
        assert field in [d["field"] for d in err["details"]], err
    assert (await get(client, s["id"], people.teacher)).json() == s


@pytest.mark.parametrize(
    "name",
    [
        "title",
        "description",
        "sessionType",
        "scheduledStart",
        "scheduledEnd",
        "maxParticipants",
        "price",
        "featured",
        "requiresEnrollment",
    ],
)
async def test_patch_null_for_required_fields(
    client: httpx.AsyncClient, people: People, new_session: NewSession, name: str
) -> None:
    s = await new_session()
    err = error(
        await patch(client, s["id"], {name: None}, people.teacher), 422, "validation_failed"
    )
    assert name in str(err["details"])
    assert (await get(client, s["id"], people.teacher)).json() == s


async def test_reschedule_only_while_scheduled(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(start=True)
    for body in (
        {"scheduledStart": iso(at())},
        {"scheduledEnd": iso(at(days=1))},
        {"scheduledStart": iso(at()), "scheduledEnd": iso(at(hours=1))},
    ):
        err = error(await patch(client, s["id"], body, people.teacher), 409, "invalid_state")
        assert "is live" in err["message"]
        assert err["details"] == {"status": "live"}

    # Other edits of a live session are fine.
    renamed = await patch(client, s["id"], {"title": "Live now"}, people.teacher)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Live now"
    assert renamed.json()["status"] == "live"


@pytest.mark.parametrize("state", ["ended", "cancelled"])
async def test_closed_sessions_are_read_only(
    client: httpx.AsyncClient, people: People, new_session: NewSession, state: str
) -> None:
    s = await session_in(state, client, people, new_session)
    for who in (people.teacher, people.admin):
        err = error(await patch(client, s["id"], {"title": "Again"}, who), 409, "invalid_state")
        assert f"is {state}" in err["message"]
        assert err["details"] == {"status": state}
    assert (await get(client, s["id"], people.teacher)).json()["title"] == s["title"]


async def test_capacity_never_below_enrolled(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(maxParticipants=5)
    for who in (people.student, people.student2):
        enrolled = await client.post(f"{URL}/{s['id']}/enroll", headers=who)
        assert enrolled.status_code == 201, enrolled.text

    error(
        await patch(client, s["id"], {"maxParticipants": 1}, people.teacher),
        409,
        "capacity_below_enrolled",
    )
    assert (await get(client, s["id"], people.teacher)).json()["maxParticipants"] == 5

    exact = await patch(client, s["id"], {"maxParticipants": 2}, people.teacher)
    assert exact.status_code == 200, exact.text
    out = exact.json()
    assert (out["maxParticipants"], out["enrolledCount"], out["seatsAvailable"]) == (2, 2, 0)
    assert out["canEnroll"] is False


async def test_live_capacity_change_reaches_the_room(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(start=True, maxParticipants=1)
    sid = s["id"]
    first = await client.post(f"{URL}/{sid}/join", headers=people.student)
    assert first.status_code == 200, first.text
    error(await client.post(f"{URL}/{sid}/join", headers=people.student2), 409, "room_full")

    raised = await patch(client, sid, {"maxParticipants": 2}, people.teacher)
    assert raised.status_code == 200, raised.text
    assert raised.json()["maxParticipants"] == 2
    assert raised.json()["activeCount"] == 1

    second = await client.post(f"{URL}/{sid}/join", headers=people.student2)
    assert second.status_code == 200, second.text
    roster = (await client.get(f"{URL}/{sid}/participants", headers=people.teacher)).json()
    assert (roster["maxCapacity"], roster["seatsTaken"], roster["isFull"]) == (2, 2, True)

    # Lowering it again closes the door to the next guest.
    lowered = await patch(client, sid, {"maxParticipants": 1}, people.admin)
    assert lowered.status_code == 200, lowered.text
    left = await client.post(f"{URL}/{sid}/leave", headers=people.student2)
    assert left.status_code == 200
    error(await client.post(f"{URL}/{sid}/join", headers=people.student2), 409, "room_full")


# -- DELETE /sessions/{ref} ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher", "admin"])
async def test_delete(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    services: Services,
    who: str,
) -> None:
    s = await new_session()
    sid = s["id"]
    for student in (people.student, people.student2):
        assert (await client.post(f"{URL}/{sid}/enroll", headers=student)).status_code == 201
    assert (await act(client, sid, "start", people.teacher)).status_code == 200
    assert (await client.post(f"{URL}/{sid}/join", headers=people.student)).status_code == 200
    posted = await client.post(f"{URL}/{sid}/messages", json={"text": "hi"}, headers=people.student)
    assert posted.status_code == 201, posted.text
    assert (await act(client, sid, "end", people.teacher)).status_code == 200
    assert await count_rows(services, EnrollmentRow, sid) == 2
    assert await count_rows(services, ChatMessageRow, sid) == 1
    assert await count_rows(services, AttendanceRow, sid) == 1

    response = await client.delete(f"{URL}/{sid}", headers=getattr(people, who))
    assert response.status_code == 204, response.text
    assert response.content == b""

    error(await get(client, sid, people.teacher), 404, "session_not_found")
    error(
        await client.get(f"{URL}/{sid}/enrollments", headers=people.teacher),
        404,
        "session_not_found",
    )
    assert await count_rows(services, EnrollmentRow, sid) == 0
    assert await count_rows(services, ChatMessageRow, sid) == 0
    assert await count_rows(services, AttendanceRow, sid) == 0
    async with services.database.transaction() as tx:
        assert await tx.get(SessionRow, sid) is None
    error(await client.delete(f"{URL}/{sid}", headers=people.teacher), 404, "session_not_found")
    assert (await listing(client, people.teacher)).json()["total"] == 0


async def test_delete_by_room_name_frees_it(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    await new_session(roomName="reusable")
    response = await client.delete(f"{URL}/reusable", headers=people.teacher)
    assert response.status_code == 204
    again = await client.post(
        URL, json={"title": "Again", "roomName": "reusable"}, headers=people.teacher
    )
    assert again.status_code == 201, again.text


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("other_teacher", 403, "not_session_owner"),
        ("student", 403, "not_session_owner"),
        ("outsider", 404, "session_not_found"),
        ("outsider_admin", 404, "session_not_found"),
    ],
)
async def test_delete_by_others(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    who: str,
    status: int,
    code: str,
) -> None:
    s = await new_session()
    error(await client.delete(f"{URL}/{s['id']}", headers=getattr(people, who)), status, code)
    assert (await get(client, s["id"], people.teacher)).status_code == 200


@pytest.mark.parametrize("state", ["scheduled", "ended", "cancelled"])
async def test_delete_in_any_state_but_live(
    client: httpx.AsyncClient, people: People, new_session: NewSession, state: str
) -> None:
    s = await session_in(state, client, people, new_session)
    response = await client.delete(f"{URL}/{s['id']}", headers=people.teacher)
    assert response.status_code == 204, response.text


async def test_live_session_cannot_be_deleted(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(start=True)
    for who in (people.teacher, people.admin):
        err = error(await client.delete(f"{URL}/{s['id']}", headers=who), 409, "invalid_state")
        assert "is live" in err["message"]
        assert err["details"] == {"status": "live"}
    assert (await get(client, s["id"], people.teacher)).json()["status"] == "live"


# -- transitions -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher", "admin"])
async def test_allowed_transitions(
    client: httpx.AsyncClient, people: People, new_session: NewSession, who: str
) -> None:
    caller = getattr(people, who)
    s = await new_session()

    started = await act(client, s["id"], "start", caller)
    assert started.status_code == 200, started.text
    live = started.json()
    assert live["status"] == "live"
    assert live["startedAt"] is not None
    assert live["endedAt"] is None
    assert isinstance(live["duration"], int)
    assert live["duration"] >= 0
    assert when(live["updatedAt"]) == when(live["startedAt"])

    ended = await act(client, s["id"], "end", caller)
    assert ended.status_code == 200, ended.text
    done = ended.json()
    assert done["status"] == "ended"
    assert done["startedAt"] == live["startedAt"]
    started_at, ended_at = when(done["startedAt"]), when(done["endedAt"])
    assert ended_at >= started_at
    assert done["duration"] == int((ended_at - started_at).total_seconds())
    assert done["cancelledAt"] is None

    other = await new_session()
    cancelled = await act(client, other["id"], "cancel", caller)
    assert cancelled.status_code == 200, cancelled.text
    gone = cancelled.json()
    assert gone["status"] == "cancelled"
    assert gone["cancelledAt"] is not None
    assert (gone["startedAt"], gone["endedAt"], gone["duration"]) == (None, None, None)
    assert (await get(client, other["id"], people.student)).json()["status"] == "cancelled"


@pytest.mark.parametrize(("state", "action"), list(ALLOWED), ids=[f"{a}-{s}" for s, a in ALLOWED])
async def test_each_allowed_transition(
    client: httpx.AsyncClient, people: People, new_session: NewSession, state: str, action: str
) -> None:
    s = await session_in(state, client, people, new_session)
    response = await act(client, s["id"], action, people.teacher)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == ALLOWED[(state, action)]
    assert (await get(client, s["id"], people.student)).json()["status"] == ALLOWED[(state, action)]


@pytest.mark.parametrize(("state", "action"), FORBIDDEN, ids=[f"{a}-{s}" for s, a in FORBIDDEN])
async def test_forbidden_transitions(
    client: httpx.AsyncClient, people: People, new_session: NewSession, state: str, action: str
) -> None:
    s = await session_in(state, client, people, new_session)
    err = error(await act(client, s["id"], action, people.teacher), 409, "invalid_state")
    assert f"is {state}" in err["message"]
    assert err["details"] == {"status": state}
    after = (await get(client, s["id"], people.teacher)).json()
    assert after["status"] == state
    for stamp in ("startedAt", "endedAt", "cancelledAt"):
        assert after[stamp] == s[stamp]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("other_teacher", 403, "not_session_owner"),
        ("student", 403, "not_session_owner"),
        ("outsider", 404, "session_not_found"),
        ("outsider_admin", 404, "session_not_found"),
    ],
)
async def test_transitions_only_for_owner_and_admin(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    action: str,
    who: str,
    status: int,
    code: str,
) -> None:
    state = "live" if action == "end" else "scheduled"
    s = await session_in(state, client, people, new_session)
    error(await act(client, s["id"], action, getattr(people, who)), status, code)
    assert (await get(client, s["id"], people.teacher)).json()["status"] == state


async def test_transitions_by_room_name(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    await new_session(roomName="named-room")
    assert (await act(client, "named-room", "start", people.teacher)).json()["status"] == "live"
    assert (await act(client, "named-room", "end", people.teacher)).json()["status"] == "ended"


async def test_a_class_scheduled_in_the_past_is_accepted_and_starts(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    """Never a class listed as upcoming that cannot start (issue 15, lifecycle 3): a schedule
    in the past is accepted, as the seed apps' own examples send it, and the class starts."""
    now = datetime.now(UTC)
    s = await new_session(
        scheduledStart=iso(now - timedelta(hours=2)), scheduledEnd=iso(now - timedelta(hours=1))
    )
    upcoming = await client.get("/api/v1/sessions?status=scheduled", headers=people.teacher)
    assert [x["id"] for x in upcoming.json()["sessions"]] == [s["id"]]
    assert upcoming.json()["sessions"][0]["canStart"] is True
    started = await act(client, s["id"], "start", people.teacher)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "live"


async def test_a_passed_session_can_still_be_cancelled(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    now = datetime.now(UTC)
    s = await new_session(
        scheduledStart=iso(now - timedelta(hours=2)), scheduledEnd=iso(now - timedelta(hours=1))
    )
    response = await act(client, s["id"], "cancel", people.teacher)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"


async def test_end_empties_the_room_and_closes_attendance(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await new_session(start=True)
    sid = s["id"]
    for who in (people.teacher, people.student, people.student2, people.admin):
        joined = await client.post(f"{URL}/{sid}/join", headers=who)
        assert joined.status_code == 200, joined.text
    roster = (await client.get(f"{URL}/{sid}/participants", headers=people.teacher)).json()
    assert roster["activeCount"] == 3
    report = (await client.get(f"{URL}/{sid}/attendance", headers=people.teacher)).json()
    assert all(j["leftAt"] is None for p in report["participants"] for j in p["joins"])

    ended = await act(client, sid, "end", people.teacher)
    assert ended.status_code == 200, ended.text
    out = ended.json()
    assert out["status"] == "ended"
    assert out["endedAt"] is not None
    assert isinstance(out["duration"], int)
    assert out["duration"] >= 0
    assert out["activeCount"] == 0
    assert out["attendedCount"] == 2

    roster = (await client.get(f"{URL}/{sid}/participants", headers=people.teacher)).json()
    assert roster["status"] == "ended"
    assert (roster["activeCount"], roster["seatsTaken"], roster["participants"]) == (0, 0, [])

    report = (await client.get(f"{URL}/{sid}/attendance", headers=people.teacher)).json()
    joins = [j for p in report["participants"] for j in p["joins"]]
    assert len(joins) == 4
    ended_at = when(out["endedAt"])
    for j in joins:
        assert j["leftAt"] is not None
        assert when(j["joinedAt"]) <= when(j["leftAt"]) <= ended_at
    assert report["attendedCount"] == 2

    # Nobody gets back in.
    error(await client.post(f"{URL}/{sid}/join", headers=people.student), 409, "room_not_live")
    assert (await get(client, sid, people.student)).json()["activeCount"] == 0


async def test_cancel_closes_the_room(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    s = await session_in("cancelled", client, people, new_session)
    err = error(
        await client.post(f"{URL}/{s['id']}/join", headers=people.student), 409, "room_not_live"
    )
    assert err["details"] == {"status": "cancelled"}
