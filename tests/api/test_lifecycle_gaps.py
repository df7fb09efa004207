"""Gaps a new user finds in minutes (issue 15, lifecycle 6): filters that were silently
ignored, rescheduling that told nobody, feedback that could not be read, attendance only as
JSON. Each test fails on the code before the fix."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api.services import Services
from tests.api.helpers import recorded_events, subscribe
from tests.conftest import People

API = "/api/v1"


def ids(response: httpx.Response) -> list[str]:
    return [s["id"] for s in response.json()["sessions"]]


async def test_course_and_expert_filters_filter(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    algebra = await new_session(courseId="algebra")
    other = await new_session(title="Other", courseId="poetry", as_=people.other_teacher)
    by_course = await client.get(f"{API}/sessions?courseId=algebra", headers=people.student)
    assert ids(by_course) == [algebra["id"]]
    by_expert = await client.get(f"{API}/sessions?expertId=teacher-2", headers=people.student)
    assert ids(by_expert) == [other["id"]]
    clash = await client.get(
        f"{API}/sessions?expertId=teacher-2&instructorId=teacher-1", headers=people.student
    )
    assert clash.status_code == 422


async def test_rescheduling_tells_the_platform(
    client: httpx.AsyncClient,
    people: People,
    new_session: Callable[..., Any],
    services: Services,
) -> None:
    await subscribe(client, people.admin, "session.updated")
    session = await new_session()
    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    moved = await client.patch(
        f"{API}/sessions/{session['id']}",
        json={"scheduledStart": later.isoformat()},
        headers=people.teacher,
    )
    assert moved.status_code == 200, moved.text
    [event] = await recorded_events(services.database, "session.updated")
    assert event["session"]["id"] == session["id"]
    assert event["changes"] == ["scheduledStart"]
    assert event["previous"]["scheduledStart"].startswith(session["scheduledStart"][:16])
    assert event["session"]["scheduledStart"].startswith(later.strftime("%Y-%m-%dT%H:%M"))


async def test_feedback_can_be_read(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    sid = (await new_session())["id"]
    for who in (people.student, people.student2):
        await client.post(f"{API}/sessions/{sid}/enroll", headers=who)
    await client.post(f"{API}/sessions/{sid}/start", headers=people.teacher)
    await client.post(f"{API}/sessions/{sid}/end", headers=people.teacher)
    for who, rating in ((people.student, 5), (people.student2, 2)):
        given = await client.post(
            f"{API}/sessions/{sid}/feedback", json={"rating": rating}, headers=who
        )
        assert given.status_code == 200, given.text

    teacher = await client.get(f"{API}/sessions/{sid}/feedback", headers=people.teacher)
    assert teacher.status_code == 200, teacher.text
    assert (teacher.json()["count"], teacher.json()["average"]) == (2, 3.5)
    assert sorted(f["rating"] for f in teacher.json()["feedback"]) == [2, 5]
    student = await client.get(f"{API}/sessions/{sid}/feedback", headers=people.student)
    assert [f["userId"] for f in student.json()["feedback"]] == ["student-1"]
    assert student.json()["average"] == 3.5


async def test_attendance_as_csv(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    sid = (await new_session(start=True))["id"]
    await client.post(f"{API}/sessions/{sid}/join", headers=people.student)
    await client.post(f"{API}/sessions/{sid}/leave", headers=people.student)
    refused = await client.get(f"{API}/sessions/{sid}/attendance.csv", headers=people.student)
    assert refused.status_code == 403
    response = await client.get(f"{API}/sessions/{sid}/attendance.csv", headers=people.teacher)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    [row] = [r for r in rows if r["userId"] == "student-1"]
    assert (row["name"], row["role"], row["joins"]) == ("Sam Student", "guest", "1")
    assert row["firstJoinedAt"].endswith("Z")


async def test_the_host_deletes_a_chat_message(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    sid = (await new_session(start=True))["id"]
    posted = await client.post(
        f"{API}/sessions/{sid}/messages", json={"text": "spam"}, headers=people.student
    )
    mid = posted.json()["id"]
    path = f"{API}/sessions/{sid}/messages/{mid}"
    assert (await client.delete(path, headers=people.student)).status_code == 403
    assert (await client.delete(path, headers=people.teacher)).status_code == 204
    assert (await client.delete(path, headers=people.teacher)).status_code == 404
    history = await client.get(f"{API}/sessions/{sid}/messages", headers=people.student)
    assert history.json()["messages"] == []


async def test_the_host_deletes_a_recording(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    from tests.api.test_recordings import webm

    sid = (await new_session(start=True))["id"]
    files = {"file": ("class.webm", webm(), "video/webm")}
    uploaded = await client.post(
        f"{API}/sessions/{sid}/recordings", files=files, headers=people.teacher
    )
    rid = uploaded.json()["id"]
    assert (
        await client.delete(f"{API}/recordings/{rid}", headers=people.student)
    ).status_code == 403
    assert (
        await client.delete(f"{API}/recordings/{rid}", headers=people.teacher)
    ).status_code == 204
    assert (await client.get(f"{API}/recordings/{rid}", headers=people.teacher)).status_code == 404
    session = await client.get(f"{API}/sessions/{sid}", headers=people.teacher)
    assert session.json()["recordingUrl"] is None
    listed = await client.get(f"{API}/sessions/{sid}/recordings", headers=people.teacher)
    assert listed.json()["recordings"] == []


async def test_a_full_class_has_a_waitlist_promoted_in_order(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    from tests.conftest import bearer

    sid = (await new_session(maxParticipants=1))["id"]
    path = f"{API}/sessions/{sid}/waitlist"
    early = await client.post(path, headers=people.student)
    assert (early.status_code, early.json()["error"]["code"]) == (409, "seats_available")
    assert (
        await client.post(f"{API}/sessions/{sid}/enroll", headers=people.student)
    ).status_code == 201
    third = bearer("student-3", "student")
    first = await client.post(path, headers=people.student2)
    assert (first.status_code, first.json()["position"]) == (201, 1)
    second = await client.post(path, headers=third)
    assert (second.status_code, second.json()["position"]) == (201, 2)
    again = await client.post(path, headers=people.student2)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    listed = await client.get(path, headers=people.teacher)
    assert [w["userId"] for w in listed.json()["waiting"]] == ["student-2", "student-3"]
    own = await client.get(path, headers=third)
    assert [(w["userId"], w["position"]) for w in own.json()["waiting"]] == [("student-3", 2)]

    # a seat frees: the first in line gets it
    assert (
        await client.delete(f"{API}/sessions/{sid}/enroll", headers=people.student)
    ).status_code == 200
    view = await client.get(f"{API}/sessions/{sid}", headers=people.student2)
    assert (view.json()["isEnrolled"], view.json()["enrolledCount"]) == (True, 1)
    listed = await client.get(path, headers=people.teacher)
    assert [w["userId"] for w in listed.json()["waiting"]] == ["student-3"]
    # more seats: the next one too
    grown = await client.patch(
        f"{API}/sessions/{sid}", json={"maxParticipants": 3}, headers=people.teacher
    )
    assert grown.json()["enrolledCount"] == 2
    assert (await client.get(path, headers=people.teacher)).json()["waiting"] == []
    assert (await client.delete(path, headers=third)).status_code == 404


async def test_reminders_go_out_once_before_the_start_and_again_after_a_reschedule(
    client: httpx.AsyncClient,
    people: People,
    new_session: Callable[..., Any],
    services: Services,
) -> None:
    from rooms.reminders import send_due_reminders

    await subscribe(client, people.admin, "session.reminder")
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    sid = (await new_session(scheduledStart=start.isoformat()))["id"]
    await client.post(f"{API}/sessions/{sid}/enroll", headers=people.student)
    lead = timedelta(minutes=15)

    async def remind(at: datetime) -> list[str]:
        return await send_due_reminders(services.database, lead=lead, now=at)

    assert await remind(start - timedelta(hours=1)) == []
    assert await remind(start - timedelta(minutes=10)) == [sid]
    assert await remind(start - timedelta(minutes=5)) == []  # once
    moved = await client.patch(
        f"{API}/sessions/{sid}",
        json={"scheduledStart": (start + timedelta(days=1)).isoformat()},
        headers=people.teacher,
    )
    assert moved.status_code == 200, moved.text
    assert await remind(start + timedelta(days=1) - timedelta(minutes=10)) == [sid]
    events = await recorded_events(services.database, "session.reminder")
    assert len(events) == 2
    assert [e["userId"] for e in events[0]["enrollments"]] == ["student-1"]
    assert events[0]["startsIn"] == 600
