"""Polls kept with their session: load, apply a command (rooms/polls.py), save.

Each command runs in one transaction that locks the poll's row (``FOR UPDATE`` on
PostgreSQL; SQLite serialises writers anyway), so a vote and a close racing on two nodes
are applied one after the other: no vote lands after the poll closed. The polls stay with
the session (deleted with it) for the results, the CSV and the analytics.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.errors import Conflict, NotFound
from rooms.ids import is_uuid, new_id
from rooms.polls import Ballot, Command, Event, Poll, PollSpec, Vote, apply, new_poll
from rooms.store import Database
from rooms.store.tables import PollRow, PollVoteRow
from rooms.store.types import utcnow

__all__ = ["MAX_POLLS_PER_SESSION", "PollStore"]

#: A session's polls are bounded (a host's runaway script cannot fill the database).
MAX_POLLS_PER_SESSION = 200


class PollStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        session_id: str,
        *,
        question: str,
        options: list[str],
        multiple: bool = False,
        correct: list[int] | None = None,
        anonymous: bool = False,
        created_by: str,
    ) -> Poll:
        """A new draft poll (validated by :func:`rooms.polls.new_poll`)."""
        poll = new_poll(
            poll_id=new_id(),
            session_id=session_id,
            question=question,
            options=options,
            multiple=multiple,
            correct=correct,
            anonymous=anonymous,
            created_by=created_by,
            at=utcnow(),
        )
        async with self._db.transaction() as tx:
            count = await tx.scalar(
                select(func.count()).select_from(PollRow).where(PollRow.session_id == session_id)
            )
            if int(count or 0) >= MAX_POLLS_PER_SESSION:
                raise Conflict(
                    f"a session has at most {MAX_POLLS_PER_SESSION} polls", code="too_many_polls"
                )
            spec = poll.spec
            tx.add(
                PollRow(
                    id=poll.id,
                    session_id=session_id,
                    question=spec.question,
                    options=list(spec.options),
                    multiple=spec.multiple,
                    correct=list(spec.correct) if spec.correct is not None else None,
                    anonymous=spec.anonymous,
                    status=poll.status,
                    shared=False,
                    created_by=created_by,
                    created_at=poll.created_at,
                )
            )
        return poll

    async def run(
        self, session_id: str, poll_id: str, command: Command
    ) -> tuple[Poll, list[Event]]:
        """Apply ``command`` to the poll and save what changed; :class:`NotFound`
        (``poll_not_found``) or the rules' refusal."""
        async with self._db.transaction() as tx:
            row = await self._row(tx, session_id, poll_id, lock=True)
            poll = await _load(tx, row)
            after, events = apply(poll, command)
            if not events:
                return after, events
            if isinstance(command, Vote):
                ballot = after.ballots[command.user_id]
                vote = await tx.get(PollVoteRow, (poll_id, command.user_id))
                if vote is None:
                    tx.add(
                        PollVoteRow(
                            poll_id=poll_id,
                            user_id=command.user_id,
                            user_name=ballot.name,
                            choices=list(ballot.choices),
                            voted_at=ballot.at,
                        )
                    )
                else:
                    vote.user_name = ballot.name
                    vote.choices = list(ballot.choices)
                    vote.voted_at = ballot.at
            else:
                row.status = after.status
                row.shared = after.shared
                row.launched_at = after.launched_at
                row.closed_at = after.closed_at
        return after, events

    async def get(self, session_id: str, poll_id: str) -> Poll:
        async with self._db.transaction() as tx:
            return await _load(tx, await self._row(tx, session_id, poll_id))

    async def list(self, session_id: str) -> list[Poll]:
        """The session's polls, oldest first, with their ballots."""
        async with self._db.transaction() as tx:
            rows = list(
                (
                    await tx.execute(
                        select(PollRow)
                        .where(PollRow.session_id == session_id)
                        .order_by(PollRow.created_at, PollRow.id)
                    )
                ).scalars()
            )
            votes = await _votes(tx, [r.id for r in rows])
        return [_poll(r, votes.get(r.id, {})) for r in rows]

    async def _row(
        self, tx: AsyncSession, session_id: str, poll_id: str, *, lock: bool = False
    ) -> PollRow:
        row = None
        if is_uuid(poll_id):
            query = select(PollRow).where(PollRow.session_id == session_id, PollRow.id == poll_id)
            if lock:
                query = query.with_for_update()
            row = await tx.scalar(query)
        if row is None:
            raise NotFound("no such poll in this session", code="poll_not_found")
        return row


async def _votes(tx: AsyncSession, poll_ids: Sequence[str]) -> dict[str, dict[str, Ballot]]:
    out: dict[str, dict[str, Ballot]] = {}
    if not poll_ids:
        return out
    rows = await tx.execute(
        select(PollVoteRow)
        .where(PollVoteRow.poll_id.in_(poll_ids))
        .order_by(PollVoteRow.voted_at, PollVoteRow.user_id)
    )
    for v in rows.scalars():
        out.setdefault(v.poll_id, {})[v.user_id] = Ballot(v.user_name, tuple(v.choices), v.voted_at)
    return out


async def _load(tx: AsyncSession, row: PollRow) -> Poll:
    return _poll(row, (await _votes(tx, [row.id])).get(row.id, {}))


def _poll(row: PollRow, ballots: dict[str, Ballot]) -> Poll:
    spec = PollSpec(
        question=row.question,
        options=tuple(row.options),
        multiple=row.multiple,
        correct=tuple(row.correct) if row.correct is not None else None,
        anonymous=row.anonymous,
    )
    return Poll(
        id=row.id,
        session_id=row.session_id,
        spec=spec,
        created_by=row.created_by,
        created_at=row.created_at,
        status=row.status,
        shared=row.shared,
        launched_at=row.launched_at,
        closed_at=row.closed_at,
        ballots=ballots,
    )
