"""Private questions' messages: the client models join
:data:`~rooms.client_messages.ClientMessage`, the server models
:data:`~rooms.server_messages.ServerMessage` (rooms/protocol_models.py has the whole contract).
signaling/questions.py handles the requests (``QuestionDesk.handle``) and builds the notices
from rooms/questions.py's :class:`~rooms.questions.Question`.

Questions are never in the room's log (nothing here carries a ``seq``): a resume gets them
again from the ``questions`` snapshot after its ``welcome``, so nobody else ever replays them.
The length limits are the domain's (rooms/questions.py imports them from here, so the
protocol's models need not import the store); the models accept twice as much, so that an
over-long text gets the store's own error (``invalid_question``, ``invalid_answer``), not
``invalid_message``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rooms.message_base import ClientModel, ServerModel, WireMessage, documented

__all__ = [
    "MAX_ANSWER",
    "MAX_TEXT",
    "QUESTION_NOTICES",
    "QUESTION_REQUESTS",
    "QuestionAnswer",
    "QuestionAsk",
    "QuestionDismiss",
    "QuestionList",
    "QuestionNotice",
    "QuestionRequest",
    "QuestionShown",
    "QuestionView",
]

#: A question's text is 1 to MAX_TEXT characters (trimmed), an answer up to MAX_ANSWER.
MAX_TEXT = 1000
MAX_ANSWER = 2000

QuestionRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]

# -- client → server ---------------------------------------------------------------------------


class QuestionAsk(ClientModel):
    """Student: ask the teacher a question only the hosts and moderators see."""

    model_config = documented(
        who="guests",
        answer="`ack {id}`; `question` to the hosts, moderators and the asker only; one a "
        "second (a burst of 5), 100 per student and class",
    )

    type: Literal["question-ask"]
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT * 2)] = Field(
        description=f"1 to {MAX_TEXT} characters (trimmed)."
    )


class QuestionAnswer(ClientModel):
    """Host: answer a question (optionally in writing)."""

    model_config = documented(
        who="host",
        answer="`ack {id, status}`; `question` (answered) to the hosts and the asker; "
        "`question_not_found`, `question_closed`",
    )

    type: Literal["question-answer"]
    id: QuestionRef
    answer: Annotated[str, StringConstraints(max_length=MAX_ANSWER * 2)] | None = Field(
        default=None, description=f"An optional written answer, up to {MAX_ANSWER} characters."
    )


class QuestionDismiss(ClientModel):
    """Host: dismiss a question without answering it."""

    model_config = documented(
        who="host",
        answer="`ack {id, status}`; `question` (dismissed) to the hosts and the asker; "
        "`question_not_found`, `question_closed`",
    )

    type: Literal["question-dismiss"]
    id: QuestionRef


QuestionRequest = QuestionAsk | QuestionAnswer | QuestionDismiss

#: Every question request model, in the union's order.
QUESTION_REQUESTS: tuple[type[ClientModel], ...] = (QuestionAsk, QuestionAnswer, QuestionDismiss)

# -- server → client ---------------------------------------------------------------------------


class QuestionView(BaseModel):
    """A question as the hosts and its asker see it (rooms/questions.py ``Question.view``)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    from_: dict[str, str] = Field(alias="from", description="The asker: userId, name.")
    text: str
    status: Literal["open", "answered", "dismissed"]
    askedAt: str = Field(description="ISO 8601 UTC with milliseconds, ``Z``.")
    answer: str | None = None
    answeredAt: str | None = Field(default=None, description="Answered or dismissed: when.")
    by: str | None = Field(default=None, description="Answered or dismissed: by whom (a name).")


class QuestionShown(ServerModel):
    """A question was asked, answered or dismissed: to the hosts, the moderators and the asker
    (on every node)."""

    type: Literal["question"] = "question"
    question: QuestionView

    def wire(self) -> WireMessage:
        out = super().wire()
        out["question"] = self.question.model_dump(by_alias=True, exclude_none=True)
        return out


class QuestionList(ServerModel):
    """After ``welcome`` (every join, resumes included): every question of the class for a
    host, one's own for a student (only when there are any)."""

    type: Literal["questions"] = "questions"
    questions: list[QuestionView]

    def wire(self) -> WireMessage:
        out = super().wire()
        out["questions"] = [q.model_dump(by_alias=True, exclude_none=True) for q in self.questions]
        return out


QuestionNotice = QuestionShown | QuestionList

#: Every question notice model, in the union's order.
QUESTION_NOTICES: tuple[type[ServerModel], ...] = (QuestionShown, QuestionList)
