"""The teaching tools' messages of protocol version 1 (polls): decoding and building. No I/O.

Client → server (each may carry ``rid``; answered with ``ack`` or ``error``):
  ``poll-create`` {question, options: [2..10 texts], multiple?, correct?: [indexes],
  anonymous?, launch? (default true)} (host; the ack carries ``poll``, the new poll's id),
  ``poll-launch`` {poll} (host), ``poll-close`` {poll} (host), ``poll-share`` {poll} (host:
  show a closed poll's results to the room), ``poll-vote`` {poll, choices: [indexes]}
  (students; again to change the vote while the poll is open; the ack carries ``choices``);
  ``hand-lower`` {target?} (host: lower one participant's raised hand, or everyone's without
  ``target``); ``react`` {emoji} (anyone visible; one of :data:`rooms.reactions.EMOJI`,
  rate-limited); ``chat-delete`` {id} (host: the message is gone for everyone, from the
  history and from resume replay); ``chat-mode`` {studentChat} (host: students may chat or
  not; while off their chat is refused with ``chat_off``); ``mute-all`` {lock?} (host: every
  student's client mutes its microphone; with ``lock`` they cannot unmute until
  ``mic-lock`` {locked: false}); ``mic-lock`` {locked} (host).

Server → client:
  ``poll`` {seq, poll: {id, question, options, multiple, anonymous, quiz, status, shared}}
  to everyone when a poll opens or closes (reliable: replayed on resume);
  ``poll-tally`` {poll: id, counts, voters, ballots? [{userId, name, choices}] (not for an
  anonymous poll)} to the host and moderators after every vote;
  ``poll-results`` {seq, poll: {... correct}, counts, voters} to everyone when the host
  shares a closed poll's results;
  ``hand`` {seq, from, raised: false, by} when the host lowered one hand, ``hands-lowered``
  {seq, by} when the host lowered them all (reliable);
  ``reactions`` {counts: {emoji: n}, names: [up to 3]} (batched per node every 0.5 s);
  ``chat-deleted`` {seq, id, deletedSeq} and ``chat-mode`` {seq, studentChat, by} (reliable);
  ``mute-all`` {seq, lock, by} and ``mic-lock`` {seq, locked, by} (reliable).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgpack
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from rooms.polls import MAX_OPTIONS, Poll, tally
from rooms.reactions import EMOJI
from rooms.untrusted import InputRefused, check_tree, parse_json
from signaling.protocol import Codec, ProtocolError

__all__ = [
    "TEACHING_TYPES",
    "ChatDelete",
    "ChatMode",
    "HandLower",
    "MicLockSet",
    "MuteAll",
    "PollAction",
    "PollCreate",
    "PollVote",
    "React",
    "Teaching",
    "decode_teaching",
    "hands_lowered_message",
    "poll_message",
    "poll_results_message",
    "poll_tally_message",
    "poll_view",
]

Rid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
PollRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Index = Annotated[int, Field(ge=0, lt=MAX_OPTIONS)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    rid: Rid | None = None


class PollCreate(_Message):
    type: Literal["poll-create"]
    question: Annotated[str, StringConstraints(max_length=1000)]
    options: Annotated[
        list[Annotated[str, StringConstraints(max_length=1000)]], Field(max_length=MAX_OPTIONS)
    ]
    multiple: bool = False
    correct: Annotated[list[Index], Field(max_length=MAX_OPTIONS)] | None = None
    anonymous: bool = False
    launch: bool = True


class PollAction(_Message):
    type: Literal["poll-launch", "poll-close", "poll-share"]
    poll: PollRef


class PollVote(_Message):
    type: Literal["poll-vote"]
    poll: PollRef
    choices: Annotated[list[Index], Field(min_length=1, max_length=MAX_OPTIONS)]


class HandLower(_Message):
    type: Literal["hand-lower"]
    target: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class React(_Message):
    type: Literal["react"]
    emoji: Annotated[str, StringConstraints(max_length=16)]

    @field_validator("emoji")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in EMOJI:
            raise ValueError(f"one of {' '.join(EMOJI)}")
        return value


class ChatDelete(_Message):
    type: Literal["chat-delete"]
    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ChatMode(_Message):
    type: Literal["chat-mode"]
    studentChat: bool


class MuteAll(_Message):
    type: Literal["mute-all"]
    lock: bool = False


class MicLockSet(_Message):
    type: Literal["mic-lock"]
    locked: bool


Teaching = (
    PollCreate
    | PollAction
    | PollVote
    | HandLower
    | React
    | ChatDelete
    | ChatMode
    | MuteAll
    | MicLockSet
)
TeachingMessage = Annotated[Teaching, Field(discriminator="type")]
_TEACHING = TypeAdapter[Any](TeachingMessage)
TEACHING_TYPES = frozenset(
    [
        "poll-create",
        "poll-launch",
        "poll-close",
        "poll-share",
        "poll-vote",
        "hand-lower",
        "react",
        "chat-delete",
        "chat-mode",
        "mute-all",
        "mic-lock",
    ]
)


def decode_teaching(frame: bytes | str, codec: Codec) -> Teaching | None:
    """The teaching message in ``frame`` (already size-checked by ``protocol.decode``), None
    when its type is not one of :data:`TEACHING_TYPES`; :class:`ProtocolError`
    (``invalid_message``) for bad fields."""
    try:
        if codec is Codec.JSON:
            data = parse_json(frame)
        else:
            data = msgpack.unpackb(frame, raw=False, strict_map_key=True, max_bin_len=0)
            check_tree(data)
    except (InputRefused, ValueError, TypeError, msgpack.UnpackException, RecursionError):
        return None  # protocol.decode already said what is wrong with it
    if not isinstance(data, dict) or data.get("type") not in TEACHING_TYPES:
        return None
    raw_rid = data.get("rid")
    rid = raw_rid if isinstance(raw_rid, str) and 0 < len(raw_rid) <= 64 else None
    try:
        message: Teaching = _TEACHING.validate_python(data)
    except ValidationError as exc:
        details: list[JsonValue] = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise ProtocolError(
            "invalid_message", f"invalid {data['type']} message", rid=rid, details=details
        ) from exc
    return message


def poll_view(poll: Poll, *, with_answer: bool) -> dict[str, Any]:
    """A poll as clients see it; the correct answer only ``with_answer`` (the host, or
    everyone once the results are shared)."""
    spec = poll.spec
    view: dict[str, Any] = {
        "id": poll.id,
        "question": spec.question,
        "options": list(spec.options),
        "multiple": spec.multiple,
        "anonymous": spec.anonymous,
        "quiz": spec.correct is not None,
        "status": poll.status,
        "shared": poll.shared,
    }
    if with_answer and spec.correct is not None:
        view["correct"] = list(spec.correct)
    return view


def ballots_view(poll: Poll) -> list[dict[str, Any]]:
    return [
        {"userId": uid, "name": b.name, "choices": list(b.choices)}
        for uid, b in poll.ballots.items()
    ]


def poll_message(seq: int, poll: Poll) -> dict[str, Any]:
    return {"type": "poll", "seq": seq, "poll": poll_view(poll, with_answer=False)}


def poll_tally_message(poll: Poll) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "poll-tally",
        "poll": poll.id,
        "counts": tally(poll),
        "voters": len(poll.ballots),
    }
    if not poll.spec.anonymous:
        message["ballots"] = ballots_view(poll)
    return message


def poll_results_message(seq: int, poll: Poll) -> dict[str, Any]:
    return {
        "type": "poll-results",
        "seq": seq,
        "poll": poll_view(poll, with_answer=True),
        "counts": tally(poll),
        "voters": len(poll.ballots),
    }


def hands_lowered_message(seq: int, by: dict[str, Any]) -> dict[str, Any]:
    return {"type": "hands-lowered", "seq": seq, "by": by}


def chat_deleted_message(seq: int, message_id: str, deleted_seq: int) -> dict[str, Any]:
    return {"type": "chat-deleted", "seq": seq, "id": message_id, "deletedSeq": deleted_seq}


def chat_mode_message(seq: int, student_chat: bool, by: dict[str, Any] | None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "chat-mode", "seq": seq, "studentChat": student_chat}
    if by is not None:
        message["by"] = by
    return message


def mute_all_message(seq: int, lock: bool, by: dict[str, Any] | None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "mute-all", "seq": seq, "lock": lock}
    if by is not None:
        message["by"] = by
    return message


def mic_lock_message(seq: int, locked: bool, by: dict[str, Any] | None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "mic-lock", "seq": seq, "locked": locked}
    if by is not None:
        message["by"] = by
    return message
