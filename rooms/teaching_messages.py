"""The teaching tools' messages (polls and quizzes, hands, reactions, chat moderation, the
microphone lock): their client models join :data:`~rooms.client_messages.ClientMessage`,
their server models :data:`~rooms.server_messages.ServerMessage` (rooms/protocol_models.py has
the whole contract). signaling/teaching.py handles the requests; signaling/teaching_protocol.py
builds the notices from the domain's state.

Reliable notices (``poll``, ``poll-results``, ``hands-lowered``, ``chat-deleted``,
``chat-mode``, ``mute-all``, ``mic-lock``) carry the room's ``seq`` and are replayed on resume;
``poll-tally`` (hosts only) and ``reactions`` are batched and not replayed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rooms.message_base import ClientModel, ServerModel, WireMessage, documented
from rooms.polls import MAX_OPTIONS
from rooms.reactions import EMOJI

__all__ = [
    "TEACHING_NOTICES",
    "TEACHING_REQUESTS",
    "Ballot",
    "ChatDelete",
    "ChatDeleted",
    "ChatMode",
    "ChatModeChanged",
    "HandLower",
    "HandsLowered",
    "MicLockChanged",
    "MicLockSet",
    "MuteAll",
    "MutedAll",
    "PollClose",
    "PollCreate",
    "PollLaunch",
    "PollResults",
    "PollShare",
    "PollShown",
    "PollTally",
    "PollView",
    "PollVote",
    "React",
    "Reactions",
    "TeachingNotice",
    "TeachingRequest",
]

PollRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Index = Annotated[int, Field(ge=0, lt=MAX_OPTIONS)]
Text = Annotated[str, StringConstraints(max_length=1000)]

# -- client → server ---------------------------------------------------------------------------


class PollCreate(ClientModel):
    """Host: create a poll (a quiz with ``correct``), launched at once unless ``launch`` is
    false."""

    model_config = documented(
        who="host",
        answer="`ack {poll, status}`; launched: `poll` to everyone",
    )

    type: Literal["poll-create"]
    question: Text
    options: Annotated[list[Text], Field(max_length=MAX_OPTIONS, description="2 to 10 texts.")]
    multiple: bool = False
    correct: Annotated[list[Index], Field(max_length=MAX_OPTIONS)] | None = Field(
        default=None, description="The right options' indexes: a quiz."
    )
    anonymous: bool = False
    launch: bool = True


class PollLaunch(ClientModel):
    """Host: open a draft poll for votes."""

    model_config = documented(who="host", answer="`ack {poll, status}`, `poll` to everyone")

    type: Literal["poll-launch"]
    poll: PollRef


class PollClose(ClientModel):
    """Host: close a poll (no more votes)."""

    model_config = documented(
        who="host",
        answer="`ack {poll, status}`, `poll` to everyone; the hosts also get the final "
        "`poll-tally`",
    )

    type: Literal["poll-close"]
    poll: PollRef


class PollShare(ClientModel):
    """Host: show a closed poll's results (and a quiz's answer) to the room."""

    model_config = documented(
        who="host",
        answer="`ack {poll, status}`, `poll-results` to everyone (counts and the correct answer)",
    )

    type: Literal["poll-share"]
    poll: PollRef


class PollVote(ClientModel):
    """Student: vote (again, to change the vote while the poll is open: the last one counts)."""

    model_config = documented(
        who="guests",
        answer="`ack {poll, choices}`; vote again to change it while the poll is open (the last "
        "vote counts); `poll_not_open` once closed; the hosts get `poll-tally`",
    )

    type: Literal["poll-vote"]
    poll: PollRef
    choices: Annotated[list[Index], Field(min_length=1, max_length=MAX_OPTIONS)] = Field(
        description="Option indexes; one unless the poll is ``multiple``."
    )


class HandLower(ClientModel):
    """Host: lower one participant's raised hand, or everyone's without ``target``."""

    model_config = documented(
        who="host",
        answer="`ack`; `hand {raised: false, by}` for one, `hands-lowered {by}` for all, to "
        "everyone",
    )

    type: Literal["hand-lower"]
    target: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class React(ClientModel):
    """Send a reaction (one of 👍 👏 ❤️ 😂 😮 🎉)."""

    model_config = documented(
        who="host, guests",
        answer="`ack`; one reaction a second (a burst of 3; `rate_limited` past it); everyone "
        "gets `reactions` (batched)",
    )

    type: Literal["react"]
    emoji: Annotated[str, StringConstraints(max_length=16)]

    @field_validator("emoji")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in EMOJI:
            raise ValueError(f"one of {' '.join(EMOJI)}")
        return value


class ChatDelete(ClientModel):
    """Host: delete a chat message for everyone (from the history and from resume replay)."""

    model_config = documented(
        who="host",
        answer="`ack`; `chat-deleted {id, deletedSeq}` to everyone; gone from the history and "
        "from resume replay",
    )

    type: Literal["chat-delete"]
    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ChatMode(ClientModel):
    """Host: let students chat or not."""

    model_config = documented(
        who="host",
        answer="`ack`; `chat-mode {studentChat, by}` to everyone; while off, guests' `chat` (and "
        "REST posts) get `chat_off`",
    )

    type: Literal["chat-mode"]
    studentChat: bool


class MuteAll(ClientModel):
    """Host: every student's client mutes its microphone; with ``lock`` they cannot unmute
    until ``mic-lock {locked: false}``."""

    model_config = documented(
        who="host",
        answer="`ack`; `mute-all {lock, by}` to everyone: students' clients mute their "
        "microphones; with `lock` they cannot unmute until `mic-lock {locked: false}`",
    )

    type: Literal["mute-all"]
    lock: bool = False


class MicLockSet(ClientModel):
    """Host: lock or unlock the students' microphones."""

    model_config = documented(who="host", answer="`ack`; `mic-lock {locked, by}` to everyone")

    type: Literal["mic-lock"]
    locked: bool


TeachingRequest = (
    PollCreate
    | PollLaunch
    | PollClose
    | PollShare
    | PollVote
    | HandLower
    | React
    | ChatDelete
    | ChatMode
    | MuteAll
    | MicLockSet
)

#: Every teaching request model, in the union's order.
TEACHING_REQUESTS: tuple[type[ClientModel], ...] = (
    PollCreate,
    PollLaunch,
    PollClose,
    PollShare,
    PollVote,
    HandLower,
    React,
    ChatDelete,
    ChatMode,
    MuteAll,
    MicLockSet,
)

# -- server → client ---------------------------------------------------------------------------

Person = dict[str, str]


class PollView(BaseModel):
    """A poll as clients see it."""

    model_config = ConfigDict(frozen=True)

    id: str
    question: str
    options: list[str]
    multiple: bool
    anonymous: bool
    quiz: bool
    status: str = Field(description="draft, open or closed")
    shared: bool
    correct: list[int] | None = Field(
        default=None, description="A quiz's answer: for the host, and once the results are shared."
    )


class Ballot(BaseModel):
    """One student's vote, as the host sees it (never for an anonymous poll)."""

    model_config = ConfigDict(frozen=True)

    userId: str
    name: str
    choices: list[int]


class PollShown(ServerModel):
    """A poll opened or closed."""

    type: Literal["poll"] = "poll"
    seq: int
    poll: PollView

    def wire(self) -> WireMessage:
        out = super().wire()
        out["poll"] = self.poll.model_dump(exclude_none=True)
        return out


class PollTally(ServerModel):
    """The live count of a poll (hosts and moderators only; at most one per poll every 250 ms)."""

    type: Literal["poll-tally"] = "poll-tally"
    poll: str = Field(description="The poll's id.")
    counts: list[int]
    voters: int
    ballots: list[Ballot] | None = Field(default=None, description="Not for an anonymous poll.")

    def wire(self) -> WireMessage:
        out = super().wire()
        if self.ballots is not None:
            out["ballots"] = [b.model_dump() for b in self.ballots]
        return out


class PollResults(ServerModel):
    """The host shared a closed poll's results (with a quiz's answer)."""

    type: Literal["poll-results"] = "poll-results"
    seq: int
    poll: PollView
    counts: list[int]
    voters: int

    def wire(self) -> WireMessage:
        out = super().wire()
        out["poll"] = self.poll.model_dump(exclude_none=True)
        return out


class HandsLowered(ServerModel):
    """The host lowered every raised hand."""

    type: Literal["hands-lowered"] = "hands-lowered"
    seq: int
    by: Person = Field(description="The host: id, userId, name, role.")


class Reactions(ServerModel):
    """The reactions of the last half second on one node (counts, and the first three names)."""

    type: Literal["reactions"] = "reactions"
    counts: dict[str, int]
    names: list[str]


class ChatDeleted(ServerModel):
    """A chat message was deleted (also the tombstone replayed at its ``seq``)."""

    type: Literal["chat-deleted"] = "chat-deleted"
    seq: int
    id: str = Field(description="The deleted message's id.")
    deletedSeq: int = Field(description="The deleted message's seq.")


class ChatModeChanged(ServerModel):
    """Students may chat, or not (``by`` is missing when changed over REST)."""

    type: Literal["chat-mode"] = "chat-mode"
    seq: int
    studentChat: bool
    by: Person | None = None


class MutedAll(ServerModel):
    """The host muted every student (students' clients mute their microphones)."""

    type: Literal["mute-all"] = "mute-all"
    seq: int
    lock: bool = Field(description="Students cannot unmute until the lock is lifted.")
    by: Person | None = None


class MicLockChanged(ServerModel):
    """The students' microphones were locked or unlocked."""

    type: Literal["mic-lock"] = "mic-lock"
    seq: int
    locked: bool
    by: Person | None = None


TeachingNotice = (
    PollShown
    | PollTally
    | PollResults
    | HandsLowered
    | Reactions
    | ChatDeleted
    | ChatModeChanged
    | MutedAll
    | MicLockChanged
)

#: Every teaching notice model, in the union's order.
TEACHING_NOTICES: tuple[type[ServerModel], ...] = (
    PollShown,
    PollTally,
    PollResults,
    HandsLowered,
    Reactions,
    ChatDeleted,
    ChatModeChanged,
    MutedAll,
    MicLockChanged,
)
