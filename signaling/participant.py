"""What one participant's messages mean: a sans-I/O state machine.

:class:`ParticipantLogic` takes decoded client messages and returns *effects* for the hub to
carry out (persist and broadcast a chat message, relay a signal, kick someone, reply, close).
It decides everything that needs no I/O: permissions (host-only actions, publishing grants,
peer-to-peer only in 1-on-1 sessions), rate limits (a token bucket for chat and one for all
messages; repeated abuse closes with 4029) and the connection's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import assert_never

from pydantic import JsonValue

from rooms.breakout_messages import (
    BreakoutBroadcast,
    BreakoutClose,
    BreakoutMove,
    BreakoutOpen,
    BreakoutRequest,
    BreakoutVisit,
)
from rooms.protocol_models import ClientMessage, WireMessage
from rooms.question_messages import (
    QuestionAnswer,
    QuestionAsk,
    QuestionDismiss,
    QuestionRequest,
)
from rooms.teaching_messages import (
    ChatDelete,
    ChatMode,
    HandLower,
    MicLockSet,
    MuteAll,
    PollClose,
    PollCreate,
    PollLaunch,
    PollShare,
    PollVote,
    React,
    TeachingRequest,
)
from rooms.tokens import RoomGrant
from rooms.waiting_messages import WaitingAdmit, WaitingRefuse, WaitingRequest, WaitingRoomSwitch
from signaling import close_codes
from signaling.protocol import (
    Allow,
    Chat,
    End,
    Hand,
    Kick,
    Leave,
    Mute,
    Ping,
    ProtocolError,
    Signal,
    error_message,
    pong_message,
)
from signaling.ratelimit import TokenBucket

__all__ = [
    "AllowPublish",
    "Breakout",
    "BroadcastHand",
    "Close",
    "Effect",
    "EndRoom",
    "HandleQuestion",
    "KickParticipant",
    "LeaveRoom",
    "ManageWaitingRoom",
    "ParticipantLogic",
    "PostChat",
    "RateLimits",
    "RelaySignal",
    "Reply",
    "RequestMute",
    "State",
    "Teach",
]

SFU = "sfu"


class State(StrEnum):
    OPEN = "open"
    CLOSING = "closing"


@dataclass(frozen=True, slots=True)
class Reply:
    message: WireMessage


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class PostChat:
    text: str
    rid: str | None


@dataclass(frozen=True, slots=True)
class RelaySignal:
    to: str
    kind: str
    payload: dict[str, JsonValue]
    rid: str | None


@dataclass(frozen=True, slots=True)
class BroadcastHand:
    raised: bool
    rid: str | None


@dataclass(frozen=True, slots=True)
class RequestMute:
    target: str
    kind: str
    rid: str | None


@dataclass(frozen=True, slots=True)
class KickParticipant:
    target: str
    reason: str | None
    rid: str | None


@dataclass(frozen=True, slots=True)
class AllowPublish:
    target: str
    publish: bool
    rid: str | None


@dataclass(frozen=True, slots=True)
class EndRoom:
    rid: str | None


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    rid: str | None


@dataclass(frozen=True, slots=True)
class Teach:
    """A teaching tool's request (polls, hands, reactions, chat moderation, the microphone
    lock), for signaling/teaching.py: it checks the sender's role and its own rate limits."""

    message: TeachingRequest

    @property
    def rid(self) -> str | None:
        return self.message.rid


@dataclass(frozen=True, slots=True)
class ManageWaitingRoom:
    """A waiting-room request, for ``Lobby.handle`` (signaling/waiting_room.py): it checks
    that the sender runs the room."""

    message: WaitingRequest

    @property
    def rid(self) -> str | None:
        return self.message.rid


@dataclass(frozen=True, slots=True)
class HandleQuestion:
    """A private question's request, for ``QuestionDesk.handle`` (signaling/questions.py): it
    checks the sender's role and the askers' own rate limit."""

    message: QuestionRequest

    @property
    def rid(self) -> str | None:
        return self.message.rid


@dataclass(frozen=True, slots=True)
class Breakout:
    """A breakout rooms request, for signaling/breakouts.py (it checks the sender's role)."""

    message: BreakoutRequest

    @property
    def rid(self) -> str | None:
        return self.message.rid


Effect = (
    Reply
    | Close
    | PostChat
    | RelaySignal
    | BroadcastHand
    | RequestMute
    | KickParticipant
    | AllowPublish
    | EndRoom
    | LeaveRoom
    | Teach
    | ManageWaitingRoom
    | HandleQuestion
    | Breakout
)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per connection: chat messages and all messages, per second with a burst; after
    ``max_violations`` refused messages within ``violation_window`` seconds the connection is
    closed with 4029."""

    chat_rate: float = 2.0
    chat_burst: float = 8.0
    message_rate: float = 50.0
    message_burst: float = 200.0
    max_violations: int = 10
    violation_window: float = 30.0


@dataclass(slots=True)
class ParticipantLogic:
    participant_id: str
    grant: RoomGrant
    session_type: str
    limits: RateLimits = field(default_factory=RateLimits)
    state: State = State.OPEN
    _chat: TokenBucket = field(init=False)
    _all: TokenBucket = field(init=False)
    _violations: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._chat = TokenBucket(self.limits.chat_rate, self.limits.chat_burst)
        self._all = TokenBucket(self.limits.message_rate, self.limits.message_burst)

    def update_grant(self, grant: RoomGrant) -> None:
        self.grant = grant

    def refuse(self, error: ProtocolError) -> list[Effect]:
        """A frame that could not be decoded: an ``error`` reply (counts as a violation)."""
        return [Reply(_error(error.code, error.message, error.rid, error.details))]

    def handle(self, message: ClientMessage, now: float) -> list[Effect]:
        """The effects of one decoded client message received at ``now`` (seconds).

        One ``case`` per member of :data:`~rooms.protocol_models.ClientMessage`: a message
        added to the union without a case here fails mypy (``assert_never``) and
        tests/signaling/test_participant_dispatch.py.
        """
        if self.state is not State.OPEN:
            return []
        rid = message.rid
        if not self._all.take(now):
            return self._violation(now, "too many messages; slow down", rid)
        match message:
            case Ping():
                return [Reply(pong_message(rid, message.ts, now))]
            case Chat():
                if not self.grant.can_chat:
                    return [Reply(_error("forbidden", "you may not chat in this room", rid))]
                if not self._chat.take(now):
                    return self._violation(now, "too many chat messages; slow down", rid)
                return [PostChat(message.text, rid)]
            case Signal():
                return self._signal(message, rid)
            case Hand():
                if self.grant.hidden:
                    return [Reply(_error("forbidden", "observers do not raise hands", rid))]
                return [BroadcastHand(message.raised, rid)]
            case Leave():
                self.state = State.CLOSING
                return [LeaveRoom(rid)]
            case End():
                if not self.grant.can_moderate:
                    return [Reply(_error("forbidden", "only the host may do that", rid))]
                return [EndRoom(rid)]
            case Mute() | Kick() | Allow():
                return self._moderate(message, rid)
            case (
                PollCreate()
                | PollLaunch()
                | PollClose()
                | PollShare()
                | PollVote()
                | HandLower()
                | React()
                | ChatDelete()
                | ChatMode()
                | MuteAll()
                | MicLockSet()
            ):
                return [Teach(message)]
            case WaitingRoomSwitch() | WaitingAdmit() | WaitingRefuse():
                return [ManageWaitingRoom(message)]
            case QuestionAsk() | QuestionAnswer() | QuestionDismiss():
                return [HandleQuestion(message)]
            case (
                BreakoutOpen()
                | BreakoutClose()
                | BreakoutBroadcast()
                | BreakoutVisit()
                | BreakoutMove()
            ):
                return [Breakout(message)]
            case _:
                assert_never(message)

    def _moderate(self, message: Mute | Kick | Allow, rid: str | None) -> list[Effect]:
        """A host's action on another participant."""
        if not self.grant.can_moderate:
            return [Reply(_error("forbidden", "only the host may do that", rid))]
        if message.target == self.participant_id:
            return [Reply(_error("invalid_target", "that is you", rid))]
        match message:
            case Mute():
                return [RequestMute(message.target, message.kind, rid)]
            case Kick():
                return [KickParticipant(message.target, message.reason, rid)]
            case Allow():
                return [AllowPublish(message.target, message.publish, rid)]
            case _:
                assert_never(message)

    def _signal(self, message: Signal, rid: str | None) -> list[Effect]:
        payload: dict[str, JsonValue] = {}
        if message.sdp is not None:
            payload["sdp"] = message.sdp
        if message.candidate is not None:
            payload["candidate"] = message.candidate.model_dump(exclude_none=True)
        if message.target is not None:
            payload["target"] = message.target
        if message.offerId is not None:
            payload["offerId"] = message.offerId
        if message.muted is not None:
            payload["muted"] = message.muted
        if message.layers:
            payload["layers"] = dict(message.layers)
        if message.to == SFU:
            if message.kind in ("offer", "unpublish"):
                payload["source"] = message.source or "camera"
            if message.kind == "offer" and not self.grant.can_publish:
                return [
                    Reply(
                        _error(
                            "forbidden",
                            "you may not publish media here; the host can allow it",
                            rid,
                        )
                    )
                ]
            return [RelaySignal(SFU, message.kind, payload, rid)]
        if message.to == self.participant_id:
            return [Reply(_error("invalid_target", "that is you", rid))]
        if self.session_type != "1-on-1" and not self.grant.can_moderate:
            return [
                Reply(
                    _error(
                        "forbidden",
                        "peer-to-peer media is for 1-on-1 sessions; signal the sfu",
                        rid,
                    )
                )
            ]
        return [RelaySignal(message.to, message.kind, payload, rid)]

    def limited(self, now: float, text: str, rid: str | None) -> list[Effect]:
        """A request the shared limits refused (the user's chat rate across nodes and REST):
        an ``error`` reply, and like any violation it counts toward 4029."""
        return self._violation(now, text, rid)

    def _violation(self, now: float, text: str, rid: str | None) -> list[Effect]:
        window = self.limits.violation_window
        self._violations = [t for t in self._violations if now - t < window]
        self._violations.append(now)
        if len(self._violations) >= self.limits.max_violations:
            self.state = State.CLOSING
            return [
                Reply(_error("rate_limited", "too many messages, repeatedly", rid)),
                Close(close_codes.RATE_LIMITED, "rate limited"),
            ]
        return [Reply(_error("rate_limited", text, rid))]


def _error(code: str, message: str, rid: str | None, details: JsonValue = None) -> WireMessage:
    return error_message(code, message, rid=rid, details=details)
