"""Participant logic without sockets: permissions, rate limits, effects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from rooms.model import RoomRole
from rooms.tokens import RoomGrant
from signaling.close_codes import RATE_LIMITED
from signaling.participant import (
    AllowPublish,
    BroadcastHand,
    Close,
    EndRoom,
    KickParticipant,
    LeaveRoom,
    ParticipantLogic,
    PostChat,
    RateLimits,
    RelaySignal,
    Reply,
    RequestMute,
)
from signaling.protocol import ClientMessage, Codec, ProtocolError, decode


def grant(role: RoomRole) -> RoomGrant:
    return RoomGrant.for_role(
        session_id="s1", tenant="acme", user_id=f"u-{role.value}", name="N", role=role
    )


def logic(
    role: RoomRole, session_type: str = "group", limits: RateLimits | None = None
) -> ParticipantLogic:
    return ParticipantLogic("p_me", grant(role), session_type, limits or RateLimits())


def msg(raw: str) -> ClientMessage:
    return decode(raw, Codec.JSON)


def errors_of(effects: Sequence[object]) -> list[str]:
    return [
        e.message["code"] for e in effects if isinstance(e, Reply) and e.message["type"] == "error"
    ]


def test_chat_becomes_a_post() -> None:
    effects = logic(RoomRole.GUEST).handle(msg('{"type":"chat","text":"hi","rid":"r1"}'), 0.0)
    assert effects == [PostChat("hi", "r1")]


def test_observers_cannot_chat_or_raise_hands() -> None:
    observer = logic(RoomRole.OBSERVER)
    assert errors_of(observer.handle(msg('{"type":"chat","text":"hi"}'), 0.0)) == ["forbidden"]
    assert errors_of(observer.handle(msg('{"type":"hand"}'), 0.0)) == ["forbidden"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"kick","target":"p_x"}',
        '{"type":"mute","target":"p_x"}',
        '{"type":"allow","target":"p_x"}',
        '{"type":"end"}',
    ],
)
def test_host_actions_are_refused_to_guests(raw: str) -> None:
    assert errors_of(logic(RoomRole.GUEST).handle(msg(raw), 0.0)) == ["forbidden"]


def test_host_actions() -> None:
    host = logic(RoomRole.HOST)
    assert host.handle(msg('{"type":"kick","target":"p_x","reason":"spam"}'), 0.0) == [
        KickParticipant("p_x", "spam", None)
    ]
    assert host.handle(msg('{"type":"mute","target":"p_x","kind":"video"}'), 0.0) == [
        RequestMute("p_x", "video", None)
    ]
    assert host.handle(msg('{"type":"allow","target":"p_x","publish":false}'), 0.0) == [
        AllowPublish("p_x", False, None)
    ]
    assert host.handle(msg('{"type":"end","rid":"e"}'), 0.0) == [EndRoom("e")]
    assert errors_of(host.handle(msg('{"type":"kick","target":"p_me"}'), 0.0)) == ["invalid_target"]


def test_publishing_needs_the_grant() -> None:
    offer = msg('{"type":"signal","to":"sfu","kind":"offer","sdp":"v=0"}')
    assert errors_of(logic(RoomRole.GUEST).handle(offer, 0.0)) == ["forbidden"]
    assert logic(RoomRole.HOST).handle(offer, 0.0) == [
        RelaySignal("sfu", "offer", {"sdp": "v=0", "source": "camera"}, None)
    ]
    # A screen is a publication of its own, with the same grant.
    screen = msg('{"type":"signal","to":"sfu","kind":"offer","sdp":"v=0","source":"screen"}')
    assert errors_of(logic(RoomRole.GUEST).handle(screen, 0.0)) == ["forbidden"]
    assert logic(RoomRole.HOST).handle(screen, 0.0) == [
        RelaySignal("sfu", "offer", {"sdp": "v=0", "source": "screen"}, None)
    ]
    guest = logic(RoomRole.GUEST)
    guest.update_grant(replace(grant(RoomRole.GUEST), can_publish=True))
    assert isinstance(guest.handle(offer, 0.0)[0], RelaySignal)
    # Answers to the SFU's offers are always allowed (subscribing).
    answer = msg('{"type":"signal","to":"sfu","kind":"answer","sdp":"v=0"}')
    assert isinstance(logic(RoomRole.GUEST).handle(answer, 0.0)[0], RelaySignal)
    # The offer's id travels with the answer, so the worker can tell a stale answer.
    answer = msg('{"type":"signal","to":"sfu","kind":"answer","sdp":"v=0","offerId":"o1"}')
    assert logic(RoomRole.GUEST).handle(answer, 0.0) == [
        RelaySignal("sfu", "answer", {"sdp": "v=0", "offerId": "o1"}, None)
    ]


def test_peer_to_peer_only_in_one_on_one_sessions() -> None:
    raw = msg('{"type":"signal","to":"p_other","kind":"offer","sdp":"v=0"}')
    assert errors_of(logic(RoomRole.GUEST, "group").handle(raw, 0.0)) == ["forbidden"]
    assert logic(RoomRole.GUEST, "1-on-1").handle(raw, 0.0) == [
        RelaySignal("p_other", "offer", {"sdp": "v=0"}, None)
    ]


def test_hand_ping_leave() -> None:
    guest = logic(RoomRole.GUEST)
    assert guest.handle(msg('{"type":"hand","raised":false,"rid":"h"}'), 0.0) == [
        BroadcastHand(False, "h")
    ]
    pong = guest.handle(msg('{"type":"ping","ts":12.5,"rid":"p"}'), 3.0)
    assert pong == [Reply({"type": "pong", "serverTs": 3.0, "ts": 12.5, "rid": "p"})]
    assert guest.handle(msg('{"type":"leave"}'), 0.0) == [LeaveRoom(None)]
    # After leaving nothing else is handled.
    assert guest.handle(msg('{"type":"chat","text":"late"}'), 0.0) == []


def test_chat_rate_limit_then_close_on_repeated_abuse() -> None:
    guest = logic(
        RoomRole.GUEST, limits=RateLimits(chat_rate=1.0, chat_burst=2.0, max_violations=3)
    )
    chat = msg('{"type":"chat","text":"spam"}')
    assert isinstance(guest.handle(chat, 0.0)[0], PostChat)
    assert isinstance(guest.handle(chat, 0.0)[0], PostChat)
    assert errors_of(guest.handle(chat, 0.0)) == ["rate_limited"]
    assert errors_of(guest.handle(chat, 0.1)) == ["rate_limited"]
    last = guest.handle(chat, 0.2)
    assert errors_of(last) == ["rate_limited"]
    assert Close(RATE_LIMITED, "rate limited") in last
    assert guest.handle(chat, 100.0) == []


def test_tokens_refill_with_time() -> None:
    guest = logic(RoomRole.GUEST, limits=RateLimits(chat_rate=1.0, chat_burst=1.0))
    chat = msg('{"type":"chat","text":"x"}')
    assert isinstance(guest.handle(chat, 0.0)[0], PostChat)
    assert errors_of(guest.handle(chat, 0.5)) == ["rate_limited"]
    assert isinstance(guest.handle(chat, 1.6)[0], PostChat)


def test_a_layered_camera_offer_carries_its_layers_to_the_sfu() -> None:
    layered = msg(
        '{"type":"signal","to":"sfu","kind":"offer","sdp":"v=0","layers":{"0":"low","1":"high"}}'
    )
    assert logic(RoomRole.HOST).handle(layered, 0.0) == [
        RelaySignal(
            "sfu",
            "offer",
            {"sdp": "v=0", "layers": {"0": "low", "1": "high"}, "source": "camera"},
            None,
        )
    ]
    # a layer name the SFU does not know is refused, like any malformed message
    bad = '{"type":"signal","to":"sfu","kind":"offer","sdp":"v=0","layers":{"0":"mid"}}'
    with pytest.raises(ProtocolError) as refused:
        msg(bad)
    assert refused.value.code == "invalid_message"
