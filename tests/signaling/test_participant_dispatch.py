"""Every client message type has a handler in ``ParticipantLogic.handle``.

mypy catches a member of ``ClientMessage`` without a ``case`` (``assert_never``); this test
catches it at run time too: it takes the union's members from the union itself, so a model
added to it without a handler reaches ``assert_never`` (an ``AssertionError``) here, and one
added without an example below fails the first test with the model's name.
"""

from __future__ import annotations

from typing import get_args

import pytest

from rooms.model import RoomRole
from rooms.protocol_models import CLIENT_MESSAGES, ClientMessage, type_of
from rooms.tokens import RoomGrant
from signaling.participant import ParticipantLogic, Reply
from signaling.protocol import CLIENT_TYPES, Codec, decode, encode

#: One valid frame of every client message type (a host's, so host-only ones pass).
EXAMPLES: dict[str, dict[str, object]] = {
    "chat": {"text": "hi"},
    "signal": {"to": "sfu", "kind": "offer", "sdp": "v=0"},
    "hand": {"raised": True},
    "mute": {"target": "p_other"},
    "kick": {"target": "p_other"},
    "allow": {"target": "p_other"},
    "end": {},
    "ping": {"ts": 1.0},
    "leave": {},
    "poll-create": {"question": "2+2?", "options": ["3", "4"], "correct": [1]},
    "poll-launch": {"poll": "p1"},
    "poll-close": {"poll": "p1"},
    "poll-share": {"poll": "p1"},
    "poll-vote": {"poll": "p1", "choices": [0]},
    "hand-lower": {"target": "p_other"},
    "react": {"emoji": "👍"},
    "chat-delete": {"id": "m1"},
    "chat-mode": {"studentChat": False},
    "mute-all": {"lock": True},
    "mic-lock": {"locked": False},
    "waiting-room": {"enabled": True},
    "waiting-admit": {"id": "w_nobody"},
    "waiting-refuse": {"id": "w_nobody"},
    "question-ask": {"text": "Why?"},
    "question-answer": {"id": "q_nobody", "answer": "Because."},
    "question-dismiss": {"id": "q_nobody"},
    "breakout-open": {"rooms": 2, "duration": 600},
    "breakout-close": {},
    "breakout-broadcast": {"text": "two minutes left"},
    "breakout-visit": {"room": "r1"},
    "breakout-move": {"userId": "u1", "room": "r1"},
}


def union_members() -> tuple[type, ...]:
    union, _discriminator = get_args(ClientMessage)
    return get_args(union)


def host() -> ParticipantLogic:
    grant = RoomGrant.for_role(
        session_id="s1", tenant="acme", user_id="u-host", name="H", role=RoomRole.HOST
    )
    return ParticipantLogic("p_me", grant, "group")


def test_the_model_list_is_the_union() -> None:
    assert union_members() == CLIENT_MESSAGES
    assert {type_of(model) for model in union_members()} == CLIENT_TYPES
    missing = {type_of(m) for m in union_members()} - EXAMPLES.keys()
    assert not missing, f"add an example (and a handler) for {sorted(missing)}"


@pytest.mark.parametrize("model", union_members(), ids=type_of)
def test_every_client_message_is_dispatched(model: type) -> None:
    tag = type_of(model)
    frame = encode({"type": tag, "rid": "r1", **EXAMPLES[tag]}, Codec.JSON)
    message = decode(frame, Codec.JSON)
    assert type(message) is model
    effects = host().handle(message, 0.0)  # AssertionError (assert_never) when unhandled
    assert effects, f"{tag} produced no effect"
    assert not [
        e for e in effects if isinstance(e, Reply) and e.message.get("code") == "unknown_type"
    ]
