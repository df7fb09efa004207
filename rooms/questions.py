"""Private questions: a student asks the teacher, and only the host, the moderators and the
asker see the question; the host answers it (optionally with a written answer) or dismisses
it. Kept with the session (deleted with it), like chat.

Rules: a question is 1 to :data:`MAX_TEXT` characters (trimmed), an answer up to
:data:`MAX_ANSWER`; a student has at most :data:`MAX_PER_USER` questions in one session; a
question is answered or dismissed once (``question_closed`` after that). Who may ask or
answer is the caller's decision (the hub: guests ask, hosts answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from rooms.errors import Conflict, NotFound, ValidationFailed
from rooms.ids import is_uuid, new_id
from rooms.question_messages import MAX_ANSWER, MAX_TEXT
from rooms.store import Database
from rooms.store.tables import QuestionRow
from rooms.store.types import utcnow

__all__ = ["MAX_ANSWER", "MAX_PER_USER", "MAX_TEXT", "Question", "QuestionStore"]

MAX_PER_USER = 100


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    session_id: str
    user_id: str
    user_name: str
    text: str
    status: str
    answer: str | None
    answered_by: str | None
    asked_at: datetime
    answered_at: datetime | None

    @classmethod
    def of(cls, row: QuestionRow) -> Question:
        return cls(
            row.id,
            row.session_id,
            row.user_id,
            row.user_name,
            row.text,
            row.status,
            row.answer,
            row.answered_by,
            row.asked_at,
            row.answered_at,
        )

    def view(self) -> dict[str, Any]:
        """As the protocol and REST show it."""
        view: dict[str, Any] = {
            "id": self.id,
            "from": {"userId": self.user_id, "name": self.user_name},
            "text": self.text,
            "status": self.status,
            "askedAt": _iso(self.asked_at),
        }
        if self.answer is not None:
            view["answer"] = self.answer
        if self.answered_at is not None:
            view["answeredAt"] = _iso(self.answered_at)
            view["by"] = self.answered_by
        return view


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class QuestionStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def ask(self, session_id: str, user_id: str, user_name: str, text: str) -> Question:
        """A new open question; :class:`ValidationFailed` (``invalid_question``) for an
        empty or too long text, :class:`Conflict` (``too_many_questions``) past the limit."""
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise ValidationFailed(
                f"a question is 1 to {MAX_TEXT} characters", code="invalid_question"
            )
        async with self._db.transaction() as tx:
            asked = await tx.scalar(
                select(func.count())
                .select_from(QuestionRow)
                .where(QuestionRow.session_id == session_id, QuestionRow.user_id == user_id)
            )
            if int(asked or 0) >= MAX_PER_USER:
                raise Conflict(
                    f"at most {MAX_PER_USER} questions per class", code="too_many_questions"
                )
            row = QuestionRow(
                id=new_id(),
                session_id=session_id,
                user_id=user_id,
                user_name=user_name,
                text=text,
                status="open",
                asked_at=utcnow(),
            )
            tx.add(row)
            question = Question.of(row)
        return question

    async def close(
        self,
        session_id: str,
        question_id: str,
        *,
        status: str,
        answer: str | None,
        by: str,
    ) -> Question:
        """Answer (``status`` answered, ``answer`` optional) or dismiss an open question.
        :class:`NotFound` (``question_not_found``), :class:`Conflict` (``question_closed``)
        once it was answered or dismissed, :class:`ValidationFailed` for a long answer."""
        if answer is not None:
            answer = answer.strip() or None
        if answer is not None and len(answer) > MAX_ANSWER:
            raise ValidationFailed(
                f"an answer is at most {MAX_ANSWER} characters", code="invalid_answer"
            )
        if not is_uuid(question_id):
            raise NotFound("no such question", code="question_not_found")
        async with self._db.transaction() as tx:
            row = await tx.scalar(
                select(QuestionRow)
                .where(QuestionRow.id == question_id, QuestionRow.session_id == session_id)
                .with_for_update()
            )
            if row is None:
                raise NotFound("no such question", code="question_not_found")
            if row.status != "open":
                raise Conflict(f"the question was {row.status} already", code="question_closed")
            row.status = status
            row.answer = answer if status == "answered" else None
            row.answered_by = by
            row.answered_at = utcnow()
            return Question.of(row)

    async def askers(self, session_id: str) -> set[str]:
        """The users who asked a question in the session (one read for a whole room)."""
        query = select(QuestionRow.user_id).where(QuestionRow.session_id == session_id)
        async with self._db.transaction() as tx:
            return set((await tx.scalars(query.distinct())).all())

    async def list(self, session_id: str, user_id: str | None = None) -> list[Question]:
        """The session's questions, oldest first; only ``user_id``'s when given."""
        query = select(QuestionRow).where(QuestionRow.session_id == session_id)
        if user_id is not None:
            query = query.where(QuestionRow.user_id == user_id)
        async with self._db.transaction() as tx:
            rows = (await tx.scalars(query.order_by(QuestionRow.asked_at, QuestionRow.id))).all()
            return [Question.of(r) for r in rows]
