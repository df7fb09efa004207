"""Polls and quizzes over REST: create, launch, close, share, read results.

The room hears of every change made here as if the host had done it over WebSocket
(``signaling/teaching.py``). Students vote over WebSocket (``poll-vote``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.endpoint import Api, Call
from rooms.access import can_manage, room_role_for
from rooms.errors import Forbidden, NotFound
from rooms.polls import MAX_OPTIONS, Close, Command, Launch, Poll, Share, tally
from rooms.session_lookup import is_enrolled, load_session
from rooms.store.tables import SessionRow
from rooms.store.types import utcnow

api = Api("/api/v1")
TAGS = ["polls"]


class PollDraft(BaseModel):
    """A new poll (a quiz when ``correct`` names the right option(s)); a draft until
    launched."""

    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, StringConstraints(max_length=1000)] = Field(
        description="1 to 300 characters."
    )
    options: Annotated[
        list[Annotated[str, StringConstraints(max_length=1000)]], Field(max_length=MAX_OPTIONS)
    ] = Field(description="2 to 10 different options of 1 to 200 characters.")
    multiple: bool = Field(default=False, description="Students may pick several options.")
    correct: (
        Annotated[list[Annotated[int, Field(ge=0, lt=MAX_OPTIONS)]], Field(max_length=10)] | None
    ) = Field(default=None, description="Indexes of the right option(s): a quiz.")
    anonymous: bool = Field(default=False, description="Nobody sees who voted what.")


class BallotOut(BaseModel):
    userId: str
    name: str
    choices: list[int]
    votedAt: datetime


class PollOut(BaseModel):
    id: str
    sessionId: str
    question: str
    options: list[str]
    multiple: bool
    anonymous: bool
    quiz: bool
    status: str = Field(description="draft, open or closed.")
    shared: bool = Field(description="The host showed the results to the room.")
    createdAt: datetime
    launchedAt: datetime | None
    closedAt: datetime | None
    correct: list[int] | None = Field(
        default=None, description="The host's, or everyone's once the results are shared."
    )
    counts: list[int] | None = Field(
        default=None, description="Votes per option: the host's, or everyone's once shared."
    )
    voters: int | None = None
    ballots: list[BallotOut] | None = Field(
        default=None, description="Who voted what: the host's, never for an anonymous poll."
    )
    myChoices: list[int] | None = Field(default=None, description="The caller's own vote.")


class PollList(BaseModel):
    polls: list[PollOut]


async def session_for(call: Call) -> tuple[SessionRow, bool]:
    """The session and whether the caller manages it (runs its polls, moderates its room);
    :class:`Forbidden` for a caller not allowed in its room."""
    async with call.services.database.transaction() as tx:
        session = await load_session(tx, call.user, call.path("ref"))
        if can_manage(call.user, session):
            return session, True
        enrolled = await is_enrolled(tx, session.id, call.user.user_id)
    if room_role_for(call.user, session, enrolled=enrolled) is None:
        raise Forbidden("this session's polls are for its participants", code="not_enrolled")
    return session, False


def poll_out(poll: Poll, *, host: bool, user_id: str) -> PollOut:
    spec = poll.spec
    sees_results = host or poll.shared
    mine = poll.ballots.get(user_id)
    return PollOut(
        id=poll.id,
        sessionId=poll.session_id,
        question=spec.question,
        options=list(spec.options),
        multiple=spec.multiple,
        anonymous=spec.anonymous,
        quiz=spec.correct is not None,
        status=poll.status,
        shared=poll.shared,
        createdAt=poll.created_at,
        launchedAt=poll.launched_at,
        closedAt=poll.closed_at,
        correct=list(spec.correct) if spec.correct is not None and sees_results else None,
        counts=tally(poll) if sees_results else None,
        voters=len(poll.ballots) if sees_results else None,
        ballots=[
            BallotOut(userId=uid, name=b.name, choices=list(b.choices), votedAt=b.at)
            for uid, b in poll.ballots.items()
        ]
        if host and not spec.anonymous
        else None,
        myChoices=list(mine.choices) if mine is not None else None,
    )


@api.route(
    "GET",
    "/sessions/{ref}/polls",
    summary="The session's polls",
    tags=TAGS,
    response=PollList,
    errors=(403, 404),
)
async def list_polls(call: Call) -> PollList:
    """Oldest first. The host sees every poll with its live results and ballots; students
    see launched polls, their own vote, and the results the host shared."""
    session, host = await session_for(call)
    polls = await call.services.hub.teaching.polls.list(session.id)
    return PollList(
        polls=[
            poll_out(p, host=host, user_id=call.user.user_id)
            for p in polls
            if host or p.status != "draft"
        ]
    )


@api.route(
    "POST",
    "/sessions/{ref}/polls",
    summary="Create a poll or quiz",
    tags=TAGS,
    status=201,
    body=PollDraft,
    response=PollOut,
    errors=(403, 404, 409),
)
async def create_poll(call: Call) -> PollOut:
    """The session's instructor or a tenant admin: a draft poll, launched with
    ``POST …/polls/{poll_id}/launch``. 422 ``invalid_poll`` for a poll the rules refuse."""
    session, host = await session_for(call)
    if not host:
        raise Forbidden("only the host runs polls", code="not_session_owner")
    draft: PollDraft = call.body
    poll = await call.services.hub.teaching.polls.create(
        session.id,
        question=draft.question,
        options=draft.options,
        multiple=draft.multiple,
        correct=draft.correct,
        anonymous=draft.anonymous,
        created_by=call.user.user_id,
    )
    return poll_out(poll, host=True, user_id=call.user.user_id)


@api.route(
    "GET",
    "/sessions/{ref}/polls/{poll_id}",
    summary="One poll and its results",
    tags=TAGS,
    response=PollOut,
    errors=(403, 404),
)
async def get_poll(call: Call) -> PollOut:
    """Results (counts, voters, the correct answer) for the host, and for everyone once
    shared; who voted what for the host of a poll that is not anonymous."""
    session, host = await session_for(call)
    poll = await call.services.hub.teaching.polls.get(session.id, call.path("poll_id"))
    if poll.status == "draft" and not host:
        raise NotFound("no such poll in this session", code="poll_not_found")
    return poll_out(poll, host=host, user_id=call.user.user_id)


async def _run(call: Call, command: Command) -> PollOut:
    session, host = await session_for(call)
    if not host:
        raise Forbidden("only the host runs polls", code="not_session_owner")
    teaching = call.services.hub.teaching
    poll, events = await teaching.polls.run(session.id, call.path("poll_id"), command)
    await teaching.announce(session.id, events)
    return poll_out(poll, host=True, user_id=call.user.user_id)


@api.route(
    "POST",
    "/sessions/{ref}/polls/{poll_id}/launch",
    summary="Launch a poll",
    tags=TAGS,
    response=PollOut,
    errors=(403, 404, 409),
)
async def launch_poll(call: Call) -> PollOut:
    """Students may vote from now on (the room gets a ``poll`` message). 409
    ``poll_not_draft`` when it was launched already."""
    return await _run(call, Launch(utcnow()))


@api.route(
    "POST",
    "/sessions/{ref}/polls/{poll_id}/close",
    summary="Close a poll",
    tags=TAGS,
    response=PollOut,
    errors=(403, 404, 409),
)
async def close_poll(call: Call) -> PollOut:
    """No more votes (closing a closed poll changes nothing). 409 ``poll_not_open`` for a
    draft."""
    return await _run(call, Close(utcnow()))


@api.route(
    "POST",
    "/sessions/{ref}/polls/{poll_id}/share",
    summary="Share a poll's results",
    tags=TAGS,
    response=PollOut,
    errors=(403, 404, 409),
)
async def share_poll(call: Call) -> PollOut:
    """The room sees the counts and the correct answer (``poll-results``). 409 ``poll_open``
    before the poll is closed."""
    return await _run(call, Share())
