"""Private questions over REST: a student asks the teacher (only the host, the moderators
and the asker see it), the host answers or dismisses; the list for the host (all) or a
student (their own). The room hears of each change as over WebSocket
(``signaling/questions.py``: ``question`` to the hosts and the asker).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.endpoint import Api, Call
from api.routes.polls import session_for
from rooms.errors import Forbidden, InvalidState
from rooms.questions import MAX_ANSWER, MAX_TEXT, Question

api = Api("/api/v1")
TAGS = ["room"]


class QuestionDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(max_length=MAX_TEXT * 2)] = Field(
        description=f"1 to {MAX_TEXT} characters (trimmed)."
    )


class AnswerDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Annotated[str, StringConstraints(max_length=MAX_ANSWER * 2)] | None = Field(
        default=None, description=f"A written answer, up to {MAX_ANSWER} characters."
    )


class QuestionOut(BaseModel):
    id: str
    userId: str = Field(description="Who asked.")
    userName: str
    text: str
    status: str = Field(description="open, answered or dismissed.")
    answer: str | None = None
    answeredBy: str | None = Field(default=None, description="The host who answered.")
    askedAt: datetime
    answeredAt: datetime | None = None


class QuestionList(BaseModel):
    questions: list[QuestionOut] = Field(description="Oldest first.")


def _out(q: Question) -> QuestionOut:
    return QuestionOut(
        id=q.id,
        userId=q.user_id,
        userName=q.user_name,
        text=q.text,
        status=q.status,
        answer=q.answer,
        answeredBy=q.answered_by,
        askedAt=q.asked_at,
        answeredAt=q.answered_at,
    )


@api.route(
    "GET",
    "/sessions/{ref}/questions",
    summary="Private questions: all for the host, one's own for a student",
    tags=TAGS,
    response=QuestionList,
    errors=(403, 404),
)
async def list_questions(call: Call) -> QuestionList:
    session, host = await session_for(call)
    store = call.services.hub.questions.store
    mine = None if host else call.user.user_id
    return QuestionList(questions=[_out(q) for q in await store.list(session.id, mine)])


@api.route(
    "POST",
    "/sessions/{ref}/questions",
    summary="Ask the teacher a private question",
    tags=TAGS,
    body=QuestionDraft,
    response=QuestionOut,
    status=201,
    errors=(403, 404, 409, 422),
)
async def ask_question(call: Call) -> QuestionOut:
    """A student of the live class; 409 ``not_live`` otherwise, ``too_many_questions``
    past 100 in one class; 422 ``invalid_question`` for an empty or long text."""
    session, host = await session_for(call)
    if host:
        raise Forbidden("students ask the teacher; hosts answer", code="forbidden")
    if session.status != "live":
        raise InvalidState("questions are asked while the class is live", code="not_live")
    body: QuestionDraft = call.body
    user = call.user
    question = await call.services.hub.questions.store.ask(
        session.id, user.user_id, user.name or user.user_id, body.text
    )
    await call.services.hub.questions.publish(question)
    return _out(question)


async def _close(call: Call, status: str, answer: str | None) -> QuestionOut:
    session, host = await session_for(call)
    if not host:
        raise Forbidden("only the host answers questions", code="not_session_owner")
    desk = call.services.hub.questions
    question = await desk.store.close(
        session.id,
        call.path("questionId"),
        status=status,
        answer=answer,
        by=call.user.name or call.user.user_id,
    )
    await desk.publish(question)
    return _out(question)


@api.route(
    "POST",
    "/sessions/{ref}/questions/{questionId}/answer",
    summary="Answer a private question",
    tags=TAGS,
    body=AnswerDraft,
    body_optional=True,
    response=QuestionOut,
    errors=(403, 404, 409, 422),
)
async def answer_question(call: Call) -> QuestionOut:
    """The host; optionally with a written ``answer`` (only the asker and the hosts see it).
    404 ``question_not_found``; 409 ``question_closed`` once answered or dismissed."""
    body: AnswerDraft = call.body or AnswerDraft()
    return await _close(call, "answered", body.answer)


@api.route(
    "POST",
    "/sessions/{ref}/questions/{questionId}/dismiss",
    summary="Dismiss a private question",
    tags=TAGS,
    response=QuestionOut,
    errors=(403, 404, 409),
)
async def dismiss_question(call: Call) -> QuestionOut:
    """The host. 404 ``question_not_found``; 409 ``question_closed``."""
    return await _close(call, "dismissed", None)
