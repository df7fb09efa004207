"""The hub's decisions without sockets, Redis or a store (signaling/room_core.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from rooms.bus_events import (
    Attach,
    Audience,
    BusEvent,
    CloseParticipant,
    Direct,
    GrantChanged,
    MediaSignal,
    PresenceChanged,
    RecordCommand,
    Relay,
    RoomEndedEvent,
    RoomMessage,
    View,
)
from rooms.model import RoomRole
from rooms.presence import PresenceEntry
from rooms.tokens import RoomGrant
from signaling import close_codes
from signaling.ordering import SeqOrder
from signaling.room_core import (
    AwaitGap,
    CloseConnection,
    EndLocalRoom,
    FanOut,
    NotePresence,
    ObserveLatency,
    Regrant,
    ReplayPlan,
    SendTo,
    Unpublish,
    close_for_gone,
    direct_event_actions,
    log_covers,
    media_workers,
    plan_replay,
    room_event_actions,
    sender_view,
)


def guest_grant() -> RoomGrant:
    return RoomGrant.for_role(
        session_id="s1", tenant="acme", user_id="u1", name="Ann", role=RoomRole.GUEST
    )


def _with_publish(grant: RoomGrant, publish: bool) -> RoomGrant:
    return replace(grant, can_publish=publish)


# -- room events --------------------------------------------------------------------------------


def ordered_from(seq: int, window: float = 1.0) -> SeqOrder:
    order = SeqOrder()
    order.window = window
    order.start_at(seq)
    return order


def chat(seq: int) -> dict[str, Any]:
    return {"type": "chat", "seq": seq, "text": f"m{seq}"}


def msg(
    message: dict[str, Any],
    *,
    audience: Audience = "all",
    exclude: str | None = None,
    sent_at: float | None = None,
) -> RoomMessage:
    return RoomMessage("s1", message, "n1", audience=audience, exclude=exclude, sent_at=sent_at)


def test_a_reliable_room_message_is_fanned_out_with_its_latency() -> None:
    event = msg(chat(3), sent_at=12.5)
    assert room_event_actions(ordered_from(2), event, 13.0) == [
        FanOut(chat(3)),
        ObserveLatency(12.5),
    ]


def test_a_reliable_message_delivered_already_asks_nothing_again() -> None:
    """This node's own chat went out as it was published; its echo from the bus is a repeat
    (not fanned out, and not counted in the bus's latency)."""
    order = ordered_from(2)
    assert room_event_actions(order, msg(chat(3), sent_at=12.5), 12.6)[0] == FanOut(chat(3))
    assert room_event_actions(order, msg(chat(3), sent_at=12.5), 13.0) == []


def test_reliable_messages_wait_for_a_gap_then_go_in_seq_order() -> None:
    order = ordered_from(2)
    # seq 4 before seq 3: held, and the shell is asked to release it at the window's end
    assert room_event_actions(order, msg(chat(4)), 10.0) == [AwaitGap(11.0)]
    # seq 3 arrives: both go, in order, and nothing waits any more
    assert room_event_actions(order, msg(chat(3)), 10.2) == [FanOut(chat(3)), FanOut(chat(4))]
    assert order.deadline is None


@pytest.mark.parametrize(
    ("audience", "exclude"), [("hosts", None), ("all", "p_me"), ("hosts", "p_me")]
)
def test_a_message_for_some_is_fanned_out_unordered(
    audience: Audience, exclude: str | None
) -> None:
    message = {"type": "signal"}
    order = ordered_from(0)
    event = msg(message, audience=audience, exclude=exclude)
    assert room_event_actions(order, event, 0.0) == [FanOut(message, audience, exclude)]


def test_a_presence_event_is_noted_for_the_next_tick() -> None:
    joined: list[View] = [{"id": "p1", "name": "Ann"}]
    left: list[View] = [{"id": "p2", "name": "Bob"}]
    event = PresenceChanged("s1", joined=joined, left=left, hidden=["p2"])
    assert room_event_actions(ordered_from(0), event, 0.0) == [NotePresence(joined, left, ["p2"])]
    assert room_event_actions(ordered_from(0), PresenceChanged("s1"), 0.0) == [
        NotePresence([], [], [])
    ]


def test_an_ended_room_is_ended_with_its_reason() -> None:
    event = RoomEndedEvent("s1", "bye")
    [action] = room_event_actions(ordered_from(0), event, 0.0)
    assert isinstance(action, EndLocalRoom)
    assert action.message["type"] == "room-ended"
    assert action.message["reason"] == "bye"


@pytest.mark.parametrize(
    "event",
    [
        MediaSignal("s1", "p1", "offer"),
        Attach("s1", "p1", "w1"),
        Relay("s1", "w1", "request"),
        RecordCommand("s1", "start", "r1"),
        Direct("s1", {"type": "x"}, "p1"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_room_events_ask_nothing(event: BusEvent) -> None:
    assert room_event_actions(ordered_from(0), event, 0.0) == []


# -- events for one participant -----------------------------------------------------------------


def test_a_direct_message_is_sent() -> None:
    message = {"type": "signal", "from": "sfu"}
    assert direct_event_actions(Direct("s1", message, "p1"), None) == [SendTo(message)]


def test_a_close_sends_its_last_message_then_closes() -> None:
    last = {"type": "error", "code": "replaced"}
    event = CloseParticipant("", "p1", 4000, "replaced", last)
    assert direct_event_actions(event, None) == [SendTo(last), CloseConnection(4000, "replaced")]
    bare = direct_event_actions(CloseParticipant("s1", "p1", close_codes.NORMAL), None)
    assert bare == [CloseConnection(close_codes.NORMAL, "")]


def test_a_granted_publish_regrants_and_tells_the_participant() -> None:
    grant = _with_publish(guest_grant(), False)
    actions = direct_event_actions(GrantChanged("s1", True, "p1"), grant)
    assert actions[0] == Regrant(_with_publish(grant, True))
    assert isinstance(actions[1], SendTo)
    assert actions[1].message["type"] == "grants"
    assert actions[1].message["grants"]["publish"] is True
    assert len(actions) == 2


def test_a_withdrawn_publish_also_stops_the_forwarding() -> None:
    grant = _with_publish(guest_grant(), True)
    actions = direct_event_actions(GrantChanged("s1", False, "p1"), grant)
    assert actions[0] == Regrant(_with_publish(grant, False))
    assert actions[-1] == Unpublish()
    assert len(actions) == 3


def test_a_grant_for_a_connection_without_one_asks_nothing() -> None:
    assert direct_event_actions(GrantChanged("s1", True, "p1"), None) == []


@pytest.mark.parametrize(
    ("reason", "code", "why", "message_type"),
    [
        ("replaced", close_codes.REPLACED, "replaced by a newer connection", "error"),
        ("left", close_codes.NORMAL, "left", None),
        ("banned", close_codes.FORBIDDEN, "kicked", "kicked"),
        ("ended", close_codes.NORMAL, "room ended", "room-ended"),
        ("expired", close_codes.GOING_AWAY, "presence lost; reconnect", None),
        ("anything else", close_codes.GOING_AWAY, "presence lost; reconnect", None),
    ],
)
def test_the_close_for_a_removed_entry_says_why(
    reason: str, code: int, why: str, message_type: str | None
) -> None:
    got_code, got_why, message = close_for_gone(reason)
    assert (got_code, got_why) == (code, why)
    assert (message or {}).get("type") == message_type


# -- media routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "target", "assigned", "expected"),
    [
        # publishing goes to the origin, whatever the assignment
        ("offer", None, "relay", ["origin"]),
        ("unpublish", None, "relay", ["origin"]),
        ("mute", None, "relay", ["origin"]),
        ("candidate", "publisher", "relay", ["origin"]),
        # receiving goes to the assigned worker (a relay in a big room)
        ("answer", None, "relay", ["relay"]),
        ("candidate", "subscriber", "relay", ["relay"]),
        # ICE without a target, and a restart: both, the origin last
        ("candidate", None, "relay", ["relay", "origin"]),
        ("restart", None, "relay", ["relay", "origin"]),
        ("restart", "subscriber", "relay", ["relay", "origin"]),
        # not assigned (yet), or assigned to the origin itself: the origin alone
        ("answer", None, None, ["origin"]),
        ("restart", None, None, ["origin"]),
        ("candidate", None, "origin", ["origin"]),
    ],
)
def test_a_signal_goes_to_the_workers_concerned(
    kind: str, target: str | None, assigned: str | None, expected: list[str]
) -> None:
    assert media_workers(kind, target, "origin", assigned) == expected


# -- resume -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_seq", "seq", "frames", "plan"),
    [
        (10, 10, 1024, ReplayPlan.NOTHING),
        (12, 10, 1024, ReplayPlan.NOTHING),
        (10, 11, 1024, ReplayPlan.FROM_LOG),
        (0, 512, 1024, ReplayPlan.FROM_LOG),  # half the send queue
        (0, 513, 1024, ReplayPlan.TOO_MUCH),
        (0, 1, 1, ReplayPlan.FROM_LOG),  # at least one, however small the queue
        (0, 2, 1, ReplayPlan.TOO_MUCH),
    ],
)
def test_a_resume_replays_at_most_half_the_send_queue(
    last_seq: int, seq: int, frames: int, plan: ReplayPlan
) -> None:
    assert plan_replay(last_seq, seq, frames) is plan


def test_the_log_must_hold_everything_after_the_last_seq() -> None:
    assert log_covers(5, 4)
    assert log_covers(1, 10)
    assert not log_covers(6, 4)  # seq 5 is no longer in the log
    assert not log_covers(None, 4)  # the log is empty (or gone)


def test_a_sender_is_shown_by_participant_and_user() -> None:
    entry = PresenceEntry("p1", "u1", "Ann", RoomRole.GUEST, "ws", "n1", 0)
    assert sender_view(entry) == {"id": "p1", "userId": "u1", "name": "Ann", "role": "guest"}
