"""Private questions over WebSocket (``rooms/questions.py`` keeps them): a student asks the
teacher; only the hosts, the moderators and the asker see the question and what became of
it.

The messages are the models of rooms/question_messages.py, members of the protocol's unions;
their requests reach :meth:`QuestionDesk.handle` through the ``HandleQuestion`` effect.

Client → server (each may carry ``rid``; answered with ``ack`` or ``error``):
  ``question-ask`` {text} (students; the ack carries ``id``; at most one a second, a burst of
  5: ``rate_limited``); ``question-answer`` {id, answer?} and ``question-dismiss`` {id}
  (the host and moderators).

Server → client:
  ``question`` {question: {id, from: {userId, name}, text, status (open, answered,
  dismissed), askedAt, answer?, answeredAt?, by?}} to the hosts, the moderators and the
  asker, when it is asked and when it is answered or dismissed; ``questions`` {questions:
  [...]} after ``welcome`` (every join, resumes included): every question of the class for
  a host, one's own for a student, only when there are any (no empty snapshot: a client
  starts with none). The questions are never in the
  room's log: a resume gets them again from this snapshot, so nobody else ever replays them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import assert_never

from rooms.bus_events import RoomMessage
from rooms.bus_port import Bus
from rooms.errors import Forbidden, RateLimited
from rooms.protocol_models import WireMessage
from rooms.question_messages import (
    QuestionAnswer,
    QuestionAsk,
    QuestionDismiss,
    QuestionList,
    QuestionRequest,
    QuestionShown,
    QuestionView,
)
from rooms.questions import Question, QuestionStore
from signaling.answering import answering
from signaling.connection import Connection
from signaling.local_room import LocalRoom
from signaling.protocol import ack_message
from signaling.ratelimit import TokenBucket

__all__ = ["QuestionDesk", "question_message", "questions_message"]

log = logging.getLogger("liveclass.questions")


def question_message(question: Question) -> WireMessage:
    return QuestionShown(question=_view(question)).wire()


def questions_message(questions: list[Question]) -> WireMessage:
    return QuestionList(questions=[_view(q) for q in questions]).wire()


def _view(question: Question) -> QuestionView:
    return QuestionView.model_validate(question.view())


class QuestionDesk:
    def __init__(
        self,
        store: QuestionStore,
        *,
        bus: Bus,
        node_id: str,
        clock: Callable[[], float],
        rate: float = 1.0,
        burst: float = 5.0,
    ) -> None:
        self.store = store
        self._bus = bus
        self._node_id = node_id
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._buckets: dict[int, TokenBucket] = {}
        self._loading: dict[str, asyncio.Future[set[str]]] = {}

    async def handle(self, conn: Connection, message: QuestionRequest) -> None:
        """Carry out a question request (decoded with every other client message, passed on
        by ``ParticipantLogic`` as ``HandleQuestion``): always answered with an ``ack`` or an
        ``error``, never raises."""
        with answering(conn, message.type, message.rid):
            conn.send(await self._handle(conn, message))

    async def _handle(self, conn: Connection, message: QuestionRequest) -> WireMessage:
        """One ``case`` per member of :data:`~rooms.question_messages.QuestionRequest`: one
        added without a case fails mypy (``assert_never``) and
        tests/signaling/test_tool_dispatch.py."""
        grant, entry = conn.grant, conn.entry
        assert grant is not None
        assert entry is not None
        match message:
            case QuestionAsk():
                if grant.can_moderate or grant.hidden:
                    raise Forbidden("students ask the teacher; hosts answer", code="forbidden")
                bucket = self._buckets.get(id(conn))
                if bucket is None:
                    if len(self._buckets) > 10_000:
                        self._buckets.clear()
                    bucket = self._buckets[id(conn)] = TokenBucket(self._rate, self._burst)
                if not bucket.take(self._clock()):
                    raise RateLimited("one question a second at most", details={"retryAfter": 1.0})
                question = await self.store.ask(
                    conn.session_id, entry.user_id, entry.name, message.text
                )
                await self.publish(question)
                return ack_message(message.rid, id=question.id)
            case QuestionAnswer() | QuestionDismiss():
                if not grant.can_moderate:
                    raise Forbidden("only the host answers questions", code="forbidden")
                answered = isinstance(message, QuestionAnswer)
                question = await self.store.close(
                    conn.session_id,
                    message.id,
                    status="answered" if answered else "dismissed",
                    answer=message.answer if isinstance(message, QuestionAnswer) else None,
                    by=entry.name,
                )
                await self.publish(question)
                return ack_message(message.rid, id=question.id, status=question.status)
            case _:
                assert_never(message)

    async def publish(self, question: Question) -> None:
        """Tell the hosts and the asker (on every node) about ``question``."""
        event = RoomMessage(
            question.session_id,
            question_message(question),
            self._node_id,
            audience=f"hosts+{question.user_id}",
        )
        await self._bus.publish(event)

    async def send_snapshot(self, conn: Connection, room: LocalRoom | None) -> None:
        """After a welcome: the questions this connection may see (see the module), only
        when there are any. ``room`` (the connection's room on this node) knows who asked
        (:attr:`LocalRoom.askers`, read from the store once per room and node): a host in a
        room nobody asked in, or a student who never asked, costs no read."""
        grant, entry = conn.grant, conn.entry
        if grant is None or entry is None:
            return
        host = grant.can_moderate or grant.hidden
        if room is not None:
            await room.ready.wait()
        if room is not None and room.subscribed:
            askers = await self._askers(room)
            if (host and not askers) or (not host and entry.user_id not in askers):
                return
        if host:
            questions = await self.store.list(conn.session_id)
        else:
            questions = await self.store.list(conn.session_id, entry.user_id)
        if questions:
            conn.send(questions_message(questions))

    async def _askers(self, room: LocalRoom) -> set[str]:
        """``room.askers``, read from the store first if this node has not yet (one read for
        the joins that wait on it). The room listens to its bus channel already, so a
        question asked after the read reaches :attr:`LocalRoom.askers` by the bus."""
        if not room.askers_loaded:
            sid = room.session_id
            loading = self._loading.get(sid)
            if loading is None:
                loading = asyncio.ensure_future(self.store.askers(sid))
                self._loading[sid] = loading
                loading.add_done_callback(lambda _: self._loading.pop(sid, None))
            found = await asyncio.shield(loading)
            room.askers |= found
            room.askers_loaded = True
        return room.askers
