"""Polls and quizzes: the rules, as a sans-I/O state machine.

A poll is a question with 2 to 10 options, single or multiple choice, optionally with the
correct option(s) (a quiz) and optionally anonymous (the host sees counts, never who voted
what). It goes ``draft`` → ``open`` (launched: students may vote) → ``closed`` (no more
votes); once closed the host may *share* its results with the room.

:func:`apply` takes a :class:`Poll` and a command and returns the new poll and the events
that happened; it raises a :mod:`rooms.errors` error (with a stable code) for a command the
rules refuse. Nothing here does I/O: ``rooms/poll_store.py`` loads, applies and saves, and the
hub (``signaling/teaching.py``) turns the events into protocol messages.

A student votes once and may change their vote until the poll closes (the last vote counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from rooms.errors import Forbidden, InvalidState, ValidationFailed

__all__ = [
    "MAX_OPTIONS",
    "MAX_OPTION_CHARS",
    "MAX_QUESTION_CHARS",
    "MIN_OPTIONS",
    "Close",
    "Closed",
    "Command",
    "Event",
    "Launch",
    "Launched",
    "Poll",
    "PollSpec",
    "Share",
    "Shared",
    "Vote",
    "Voted",
    "apply",
    "new_poll",
    "tally",
]

MIN_OPTIONS = 2
MAX_OPTIONS = 10
MAX_QUESTION_CHARS = 300
MAX_OPTION_CHARS = 200


@dataclass(frozen=True, slots=True)
class PollSpec:
    """What the host asks. ``correct``: indexes of the right option(s), or None (a poll, not
    a quiz)."""

    question: str
    options: tuple[str, ...]
    multiple: bool = False
    correct: tuple[int, ...] | None = None
    anonymous: bool = False


@dataclass(frozen=True, slots=True)
class Ballot:
    name: str
    choices: tuple[int, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class Poll:
    id: str
    session_id: str
    spec: PollSpec
    created_by: str
    created_at: datetime
    status: str = "draft"
    shared: bool = False
    launched_at: datetime | None = None
    closed_at: datetime | None = None
    #: user id → their (last) ballot.
    ballots: dict[str, Ballot] = field(default_factory=dict)


# -- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Launch:
    at: datetime


@dataclass(frozen=True, slots=True)
class Vote:
    user_id: str
    name: str
    choices: tuple[int, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class Close:
    at: datetime


@dataclass(frozen=True, slots=True)
class Share:
    pass


Command = Launch | Vote | Close | Share


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Launched:
    poll: Poll


@dataclass(frozen=True, slots=True)
class Voted:
    poll: Poll
    user_id: str
    changed: bool


@dataclass(frozen=True, slots=True)
class Closed:
    poll: Poll


@dataclass(frozen=True, slots=True)
class Shared:
    poll: Poll


Event = Launched | Voted | Closed | Shared


def _clean_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"the {what} is text", code="invalid_poll")
    text = " ".join(value.split())
    if not text:
        raise ValidationFailed(f"the {what} is empty", code="invalid_poll")
    if len(text) > limit:
        raise ValidationFailed(
            f"the {what} has at most {limit} characters",
            code="invalid_poll",
            details={"maxChars": limit},
        )
    return text


def new_poll(
    *,
    poll_id: str,
    session_id: str,
    question: str,
    options: list[str],
    multiple: bool = False,
    correct: list[int] | None = None,
    anonymous: bool = False,
    created_by: str,
    at: datetime,
) -> Poll:
    """A draft poll, validated: :class:`ValidationFailed` (code ``invalid_poll``) for an
    empty or long question or option, fewer than 2 or more than 10 options, repeated options,
    or a ``correct`` index out of range (more than one only for a multiple-choice poll)."""
    text = _clean_text(question, "question", MAX_QUESTION_CHARS)
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise ValidationFailed(
            f"a poll has {MIN_OPTIONS} to {MAX_OPTIONS} options",
            code="invalid_poll",
            details={"min": MIN_OPTIONS, "max": MAX_OPTIONS},
        )
    cleaned = tuple(_clean_text(o, "option", MAX_OPTION_CHARS) for o in options)
    if len({o.casefold() for o in cleaned}) != len(cleaned):
        raise ValidationFailed("the options must differ", code="invalid_poll")
    right: tuple[int, ...] | None = None
    if correct is not None:
        right = tuple(sorted(set(correct)))
        if not right or any(not 0 <= i < len(cleaned) for i in right):
            raise ValidationFailed("correct names options by index, from 0", code="invalid_poll")
        if len(right) > 1 and not multiple:
            raise ValidationFailed(
                "a single-choice quiz has one correct option", code="invalid_poll"
            )
    spec = PollSpec(text, cleaned, multiple, right, anonymous)
    return Poll(poll_id, session_id, spec, created_by, at)


def apply(poll: Poll, command: Command) -> tuple[Poll, list[Event]]:
    """The poll after ``command`` and what happened. Refusals: ``poll_not_draft`` (launch
    twice), ``poll_not_open`` (vote on a draft or closed poll, close a draft), ``poll_open``
    (share before closing), ``invalid_choice``."""
    if isinstance(command, Launch):
        if poll.status != "draft":
            raise InvalidState("this poll was launched already", code="poll_not_draft")
        poll = replace(poll, status="open", launched_at=command.at)
        return poll, [Launched(poll)]
    if isinstance(command, Vote):
        if poll.status != "open":
            raise InvalidState(
                "this poll is not open for votes", code="poll_not_open", details=poll.status
            )
        choices = _check_choices(poll.spec, command.choices)
        before = poll.ballots.get(command.user_id)
        if before is not None and before.choices == choices:
            return poll, []
        ballots = dict(poll.ballots)
        ballots[command.user_id] = Ballot(command.name, choices, command.at)
        poll = replace(poll, ballots=ballots)
        return poll, [Voted(poll, command.user_id, changed=before is not None)]
    if isinstance(command, Close):
        if poll.status == "closed":
            return poll, []
        if poll.status != "open":
            raise InvalidState("launch the poll before closing it", code="poll_not_open")
        poll = replace(poll, status="closed", closed_at=command.at)
        return poll, [Closed(poll)]
    if poll.status != "closed":
        raise InvalidState("close the poll before sharing its results", code="poll_open")
    if poll.shared:
        return poll, []
    poll = replace(poll, shared=True)
    return poll, [Shared(poll)]


def _check_choices(spec: PollSpec, choices: tuple[int, ...]) -> tuple[int, ...]:
    picked = tuple(sorted(set(choices)))
    if not picked:
        raise ValidationFailed("choose at least one option", code="invalid_choice")
    if any(not 0 <= i < len(spec.options) for i in picked):
        raise ValidationFailed(
            "no such option", code="invalid_choice", details={"options": len(spec.options)}
        )
    if len(picked) > 1 and not spec.multiple:
        raise ValidationFailed("this poll takes one choice", code="invalid_choice")
    return picked


def tally(poll: Poll) -> list[int]:
    """Votes per option (a multiple-choice ballot counts for each option it picked)."""
    counts = [0] * len(poll.spec.options)
    for ballot in poll.ballots.values():
        for i in ballot.choices:
            counts[i] += 1
    return counts


def check_host(may_moderate: bool) -> None:
    """Only the host (or a tenant admin) runs polls."""
    if not may_moderate:
        raise Forbidden("only the host runs polls", code="forbidden")
