"""The poll rules (rooms/polls.py) without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rooms.errors import InvalidState, ValidationFailed
from rooms.polls import (
    Close,
    Closed,
    Launch,
    Launched,
    Poll,
    Share,
    Shared,
    Vote,
    Voted,
    apply,
    new_poll,
    tally,
)

T0 = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def draft(**kw: object) -> Poll:
    args: dict[str, object] = {
        "poll_id": "p1",
        "session_id": "s1",
        "question": "  What is  2+2? ",
        "options": ["3", "4", "5"],
        "created_by": "teacher",
        "at": T0,
    }
    args.update(kw)
    return new_poll(**args)  # type: ignore[arg-type]


def opened(**kw: object) -> Poll:
    poll, _ = apply(draft(**kw), Launch(T0))
    return poll


def test_a_new_poll_is_a_cleaned_draft() -> None:
    poll = draft(correct=[1])
    assert poll.status == "draft"
    assert poll.spec.question == "What is 2+2?"
    assert poll.spec.options == ("3", "4", "5")
    assert poll.spec.correct == (1,)


@pytest.mark.parametrize(
    "kw",
    [
        {"question": "   "},
        {"question": "x" * 301},
        {"options": ["only one"]},
        {"options": [str(i) for i in range(11)]},
        {"options": ["a", " A "]},
        {"options": ["a", ""]},
        {"correct": [3]},
        {"correct": []},
        {"correct": [0, 1]},  # two right answers in a single-choice quiz
    ],
)
def test_bad_polls_are_refused_with_invalid_poll(kw: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        draft(**kw)
    assert caught.value.code == "invalid_poll"


def test_a_multiple_choice_quiz_may_have_several_right_answers() -> None:
    assert draft(multiple=True, correct=[2, 0, 2]).spec.correct == (0, 2)


def test_launch_vote_close_share() -> None:
    poll, events = apply(draft(), Launch(T0))
    assert poll.status == "open"
    assert events == [Launched(poll)]
    poll, events = apply(poll, Vote("s1", "Ann", (1,), T0))
    assert events == [Voted(poll, "s1", changed=False)]
    poll, events = apply(poll, Vote("s2", "Bob", (0,), T0))
    assert tally(poll) == [1, 1, 0]
    poll, events = apply(poll, Close(T0))
    assert poll.status == "closed"
    assert events == [Closed(poll)]
    poll, events = apply(poll, Share())
    assert poll.shared
    assert events == [Shared(poll)]
    assert apply(poll, Share()) == (poll, [])  # sharing twice says nothing new


def test_a_student_votes_once_and_may_change_it_until_closed() -> None:
    poll = opened()
    poll, _ = apply(poll, Vote("s1", "Ann", (0,), T0))
    poll, events = apply(poll, Vote("s1", "Ann", (2,), T0))
    assert tally(poll) == [0, 0, 1]
    assert events == [Voted(poll, "s1", changed=True)]
    assert apply(poll, Vote("s1", "Ann", (2,), T0)) == (poll, [])
    poll, _ = apply(poll, Close(T0))
    with pytest.raises(InvalidState) as caught:
        apply(poll, Vote("s1", "Ann", (1,), T0))
    assert caught.value.code == "poll_not_open"
    assert tally(poll) == [0, 0, 1]


def test_no_votes_on_a_draft_and_no_closing_it() -> None:
    for command in (Vote("s1", "Ann", (0,), T0), Close(T0)):
        with pytest.raises(InvalidState) as caught:
            apply(draft(), command)
        assert caught.value.code == "poll_not_open"


def test_launch_once_and_share_only_when_closed() -> None:
    poll = opened()
    with pytest.raises(InvalidState) as caught:
        apply(poll, Launch(T0))
    assert caught.value.code == "poll_not_draft"
    with pytest.raises(InvalidState) as caught:
        apply(poll, Share())
    assert caught.value.code == "poll_open"


@pytest.mark.parametrize("choices", [(), (3,), (-1,), (0, 1)])
def test_bad_choices_are_refused(choices: tuple[int, ...]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        apply(opened(), Vote("s1", "Ann", choices, T0))
    assert caught.value.code == "invalid_choice"


def test_multiple_choice_counts_each_pick() -> None:
    poll = opened(multiple=True)
    poll, _ = apply(poll, Vote("s1", "Ann", (0, 2, 2), T0))
    poll, _ = apply(poll, Vote("s2", "Bob", (2,), T0))
    assert tally(poll) == [1, 0, 2]
    assert poll.ballots["s1"].choices == (0, 2)
