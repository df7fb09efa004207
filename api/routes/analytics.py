"""Learning analytics of a session, for its teacher: JSON and CSV (``rooms/analytics.py``)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from starlette.responses import Response

from api.endpoint import Api, Call
from rooms.analytics import SessionAnalytics, build

api = Api("/api/v1")
TAGS = ["room"]


class StudentAnalyticsOut(BaseModel):
    userId: str
    name: str
    attended: bool
    watchTime: float = Field(description="Seconds in the room.")
    joins: int
    firstJoinedAt: datetime | None
    lastLeftAt: datetime | None
    messages: int = Field(description="Chat messages posted (deleted ones are not counted).")
    pollsAnswered: int
    quizCorrect: int
    handsRaised: int = Field(description="Times they raised their hand.")
    talkSeconds: float = Field(
        description="Seconds they were an active speaker (written every few seconds and "
        "when they leave, so a figure read during the class may lag a little)."
    )


class AnalyticsOut(BaseModel):
    sessionId: str
    title: str
    status: str
    students: int
    attended: int
    averageWatchTime: float = Field(description="Seconds, over the students.")
    polls: int = Field(description="Polls launched.")
    quizzes: int
    pollParticipation: float = Field(description="Answers given / (students * polls), %.")
    messages: int = Field(description="Chat messages by everyone.")
    perStudent: list[StudentAnalyticsOut]


async def _analytics(call: Call) -> SessionAnalytics:
    ref = call.path("ref")
    await call.services.participation.expire(call.user, ref)
    report = await call.services.attendance.report(call.user, ref)  # the teacher's only
    sid = report.session.id
    polls = await call.services.hub.teaching.polls.list(sid)
    messages = await call.services.chat.counts_by_user(sid)
    activity = await call.services.hub.activity.by_user(sid)
    teachers = {report.session.instructor_id}
    return build(report, polls, messages, teacher_ids=teachers, activity=activity)


@api.route(
    "GET",
    "/sessions/{ref}/analytics",
    summary="Learning analytics",
    tags=TAGS,
    response=AnalyticsOut,
    errors=(403, 404),
)
async def analytics(call: Call) -> AnalyticsOut:
    """Per student: attendance, watch time, joins, chat messages, polls answered, quiz
    answers right, hands raised and talk time; and the class's totals. The session's
    instructor or a tenant admin, during and after the class."""
    a = await _analytics(call)
    return AnalyticsOut(
        sessionId=a.session_id,
        title=a.title,
        status=a.status,
        students=len(a.students),
        attended=a.attended,
        averageWatchTime=a.average_watch_seconds,
        polls=a.polls,
        quizzes=a.quizzes,
        pollParticipation=a.poll_participation,
        messages=a.messages,
        perStudent=[
            StudentAnalyticsOut(
                userId=s.user_id,
                name=s.name,
                attended=s.attended,
                watchTime=s.watch_seconds,
                joins=s.joins,
                firstJoinedAt=s.first_joined,
                lastLeftAt=s.last_left,
                messages=s.messages,
                pollsAnswered=s.polls_answered,
                quizCorrect=s.quiz_correct,
                handsRaised=s.hands_raised,
                talkSeconds=s.talk_seconds,
            )
            for s in a.students
        ],
    )


_CSV = {
    "description": "One line per student",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}
COLUMNS = [
    "userId",
    "name",
    "attended",
    "watchTimeSeconds",
    "joins",
    "firstJoinedAt",
    "lastLeftAt",
    "messages",
    "pollsAnswered",
    "pollsAsked",
    "quizCorrect",
    "quizzesAsked",
    "handsRaised",
    "talkSeconds",
]


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else ""


def _safe(text: str) -> str:
    """Names are the users' own: one starting like a formula is kept as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@api.route(
    "GET",
    "/sessions/{ref}/analytics.csv",
    summary="Learning analytics as CSV",
    tags=TAGS,
    raw_response=_CSV,
    errors=(403, 404),
)
async def analytics_csv(call: Call) -> Response:
    """The per-student analytics as a spreadsheet. Instructor or tenant admin."""
    a = await _analytics(call)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for s in a.students:
        writer.writerow(
            [
                s.user_id,
                _safe(s.name),
                "yes" if s.attended else "no",
                s.watch_seconds,
                s.joins,
                _when(s.first_joined),
                _when(s.last_left),
                s.messages,
                s.polls_answered,
                a.polls,
                s.quiz_correct,
                a.quizzes,
                s.hands_raised,
                s.talk_seconds,
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="analytics-{a.session_id}.csv"'},
    )
