"""The teaching tools' server messages, built from the domain's state. No I/O.

The messages are the models of rooms/teaching_messages.py (part of the protocol's unions, so
decoded, documented and typed in JavaScript like the rest); these functions turn a poll, a
host and a seq into their :meth:`~rooms.message_base.ServerModel.wire` dicts.
"""

from __future__ import annotations

from rooms.polls import Poll, tally
from rooms.protocol_models import WireMessage
from rooms.teaching_messages import (
    Ballot,
    ChatDeleted,
    ChatModeChanged,
    HandsLowered,
    MicLockChanged,
    MutedAll,
    PollResults,
    PollShown,
    PollTally,
    PollView,
)

__all__ = [
    "chat_deleted_message",
    "chat_mode_message",
    "hands_lowered_message",
    "mic_lock_message",
    "mute_all_message",
    "poll_message",
    "poll_results_message",
    "poll_tally_message",
    "poll_view",
]

#: A participant as messages name them (``from``, ``by``): id, userId, name, role.
Person = dict[str, str]


def poll_view(poll: Poll, *, with_answer: bool) -> PollView:
    """A poll as clients see it; the correct answer only ``with_answer`` (the host, or
    everyone once the results are shared)."""
    spec = poll.spec
    return PollView(
        id=poll.id,
        question=spec.question,
        options=list(spec.options),
        multiple=spec.multiple,
        anonymous=spec.anonymous,
        quiz=spec.correct is not None,
        status=poll.status,
        shared=poll.shared,
        correct=list(spec.correct) if with_answer and spec.correct is not None else None,
    )


def poll_message(seq: int, poll: Poll) -> WireMessage:
    return PollShown(seq=seq, poll=poll_view(poll, with_answer=False)).wire()


def poll_tally_message(poll: Poll) -> WireMessage:
    ballots = None
    if not poll.spec.anonymous:
        ballots = [
            Ballot(userId=uid, name=b.name, choices=list(b.choices))
            for uid, b in poll.ballots.items()
        ]
    return PollTally(
        poll=poll.id, counts=tally(poll), voters=len(poll.ballots), ballots=ballots
    ).wire()


def poll_results_message(seq: int, poll: Poll) -> WireMessage:
    return PollResults(
        seq=seq,
        poll=poll_view(poll, with_answer=True),
        counts=tally(poll),
        voters=len(poll.ballots),
    ).wire()


def hands_lowered_message(seq: int, by: Person) -> WireMessage:
    return HandsLowered(seq=seq, by=by).wire()


def chat_deleted_message(seq: int, message_id: str, deleted_seq: int) -> WireMessage:
    return ChatDeleted(seq=seq, id=message_id, deletedSeq=deleted_seq).wire()


def chat_mode_message(seq: int, student_chat: bool, by: Person | None) -> WireMessage:
    return ChatModeChanged(seq=seq, studentChat=student_chat, by=by).wire()


def mute_all_message(seq: int, lock: bool, by: Person | None) -> WireMessage:
    return MutedAll(seq=seq, lock=lock, by=by).wire()


def mic_lock_message(seq: int, locked: bool, by: Person | None) -> WireMessage:
    return MicLockChanged(seq=seq, locked=locked, by=by).wire()
