"""Server models: ``wire()`` is the model's JSON shape (the fast path equals pydantic's dump)."""

from __future__ import annotations

import pytest

from rooms.protocol_models import (
    Ack,
    ChatDelivery,
    ErrorMessage,
    ParticipantView,
    ServerModel,
    ServerSignal,
    Welcome,
)

SENDER = {"id": "p_1", "userId": "u1", "name": "Ann", "role": "guest"}

EXAMPLES: list[ServerModel] = [
    ChatDelivery(id="m1", seq=4, from_=SENDER, text="hi", ts="2026-01-01T00:00:00.000Z"),
    ServerSignal(from_="sfu", kind="offer", sdp="v=0", offerId="o1", connectionId="c1"),
    ErrorMessage(code="forbidden", message="no", rid="r1", details=[{"field": "x"}]),
    ErrorMessage(code="bad", message="no", from_="sfu"),
    Ack(rid="r1", id="m1", seq=4),
    Ack(),
    Welcome(
        protocol=1,
        participant=ParticipantView(id="p_1", userId="u1", name="Ann", role="guest", joinedAt=1),
        room={"id": "s1", "title": None},
        count=1,
        seats=1,
        resume="tok",
        seq=0,
        grants={"publish": False},
        resumed=False,
        iceServers=[],
    ),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_wire_is_the_models_dump_by_alias_without_nones(message: ServerModel) -> None:
    assert message.wire() == message.model_dump(by_alias=True, exclude_none=True)
    assert "from_" not in message.wire()


def test_wire_keeps_nones_inside_open_objects() -> None:
    welcome = EXAMPLES[-1].wire()
    assert welcome["room"] == {"id": "s1", "title": None}
    assert "roster" not in welcome
    assert "reload" not in welcome
