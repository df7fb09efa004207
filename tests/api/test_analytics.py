"""Learning analytics (issue 17): per student attendance, chat messages, polls answered and
quiz answers right, as JSON and CSV, for the teacher only; and the pure builder."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx

from rooms.analytics import build
from rooms.attendance import AttendanceReport, UserAttendance
from rooms.polls import Close, Launch, Vote, apply, new_poll
from rooms.store.tables import SessionRow
from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.signaling.harness import class_of_three, fast_chat, reply

T0 = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def test_the_builder_counts_what_each_student_did() -> None:
    session = SessionRow(id="s1", title="Algebra", status="ended", instructor_id="t1")
    report = AttendanceReport(
        session=session,
        users=[
            UserAttendance("t1", "Tina", "host", [(T0, T0 + timedelta(minutes=50))], 3000.0),
            UserAttendance("u1", "Ann", "guest", [(T0, T0 + timedelta(minutes=40))], 2400.0, True),
            UserAttendance("u2", "Bob", "guest", [(T0, T0 + timedelta(minutes=5))], 300.0, True),
        ],
    )
    quiz = new_poll(
        poll_id="p1",
        session_id="s1",
        question="2+2?",
        options=["3", "4"],
        correct=[1],
        created_by="t1",
        at=T0,
    )
    quiz, _ = apply(quiz, Launch(T0))
    quiz, _ = apply(quiz, Vote("u1", "Ann", (1,), T0))
    quiz, _ = apply(quiz, Vote("u2", "Bob", (0,), T0))
    quiz, _ = apply(quiz, Close(T0))
    poll = new_poll(
        poll_id="p2",
        session_id="s1",
        question="Fun?",
        options=["yes", "no"],
        created_by="t1",
        at=T0,
    )
    poll, _ = apply(poll, Launch(T0))
    poll, _ = apply(poll, Vote("u1", "Ann", (0,), T0))
    draft = new_poll(
        poll_id="p3",
        session_id="s1",
        question="Later?",
        options=["a", "b"],
        created_by="t1",
        at=T0,
    )
    messages = {"t1": ("Tina", 4), "u1": ("Ann", 2), "u3": ("Cy", 1)}
    a = build(report, [quiz, poll, draft], messages, teacher_ids={"t1"})
    assert (a.polls, a.quizzes, a.messages) == (2, 1, 7)
    rows = {s.user_id: s for s in a.students}
    assert sorted(rows) == ["u1", "u2", "u3"]  # Cy posted over REST without joining
    assert (rows["u1"].polls_answered, rows["u1"].quiz_correct, rows["u1"].messages) == (2, 1, 2)
    assert (rows["u2"].polls_answered, rows["u2"].quiz_correct, rows["u2"].messages) == (1, 0, 0)
    assert rows["u3"].attended is False
    assert a.attended == 2
    assert a.poll_participation == 50.0  # 3 answers of 3 students x 2 polls
    assert a.average_watch_seconds == 900.0


pytestmark = fast_chat


async def test_the_teacher_reads_analytics_and_csv(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    sid = (await new_session(start=True))["id"]
    teacher, s1, s2 = await class_of_three(client, nodes, sid, people)
    for i, text in enumerate(["hi", "question", "thanks"]):
        await s1.send({"type": "chat", "text": text, "rid": f"c{i}"})
        await reply(s1, f"c{i}")
    await teacher.send({"type": "chat", "text": "welcome", "rid": "t"})
    await reply(teacher, "t")
    quiz = {"type": "poll-create", "question": "2+2?", "options": ["3", "4"], "correct": [1]}
    await teacher.send({**quiz, "rid": "q"})
    pid = (await reply(teacher, "q"))["poll"]
    await s1.send({"type": "poll-vote", "poll": pid, "choices": [1], "rid": "v1"})
    await s2.send({"type": "poll-vote", "poll": pid, "choices": [0], "rid": "v2"})
    await reply(s1, "v1")
    await reply(s2, "v2")

    url = f"/api/v1/sessions/{sid}/analytics"
    assert (await client.get(url, headers=people.student)).status_code == 403
    data = (await client.get(url, headers=people.teacher)).json()
    assert data["students"] == 2
    assert data["polls"] == 1
    assert data["quizzes"] == 1
    assert data["messages"] == 4
    assert data["pollParticipation"] == 100.0
    rows = {r["userId"]: r for r in data["perStudent"]}
    assert rows["student-1"]["messages"] == 3
    assert rows["student-1"]["quizCorrect"] == 1
    assert rows["student-2"]["quizCorrect"] == 0
    assert rows["student-2"]["pollsAnswered"] == 1
    assert rows["student-2"]["joins"] == 1
    assert rows["student-2"]["watchTime"] >= 0

    response = await client.get(f"{url}.csv", headers=people.teacher)
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    by_user = {r["userId"]: r for r in table}
    assert by_user["student-1"]["messages"] == "3"
    assert by_user["student-1"]["quizCorrect"] == "1"
    assert by_user["student-2"]["pollsAnswered"] == "1"
    assert by_user["student-2"]["pollsAsked"] == "1"
    assert (await client.get(f"{url}.csv", headers=people.student)).status_code == 403
