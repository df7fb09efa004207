"""Every waiting-room and question request reaches its handler: ``Lobby._handle``
(signaling/waiting_room.py) and ``QuestionDesk._handle`` (signaling/questions.py).

They are members of the protocol's client union (decoded with every other client message;
there is no second decoder), ``ParticipantLogic.handle`` passes them on as
``ManageWaitingRoom`` / ``HandleQuestion`` (checked in test_participant_dispatch.py), and this
test sends one of each, taken from the unions themselves, through a hub. A model added to
:data:`~rooms.waiting_messages.WaitingRequest` or :data:`~rooms.question_messages.QuestionRequest`
without a ``case`` reaches ``assert_never``, which the handler answers as ``unavailable``:
that fails here (and mypy fails first). Each must be answered by its own handler: an ``ack``,
or a domain error (a waiter or a question that does not exist, a host asking a question).
"""

from __future__ import annotations

from typing import get_args

import httpx
import pytest

from rooms.protocol_models import CLIENT_MESSAGES, type_of
from rooms.question_messages import QUESTION_REQUESTS, QuestionRequest
from rooms.waiting_messages import WAITING_REQUESTS, WaitingRequest
from signaling.hub import Hub
from signaling.participant import HandleQuestion, ManageWaitingRoom, ParticipantLogic
from signaling.protocol import Codec, decode, encode
from tests.conftest import NewSession, People
from tests.signaling.harness import join, reply
from tests.signaling.test_participant_dispatch import EXAMPLES, host

#: Answers that mean the request never reached a handler of its own.
NOT_HANDLED = {"unknown_type", "invalid_message", "unavailable", "rate_limited"}

TOOL_REQUESTS = (*WAITING_REQUESTS, *QUESTION_REQUESTS)


def test_the_tool_lists_are_the_unions_and_in_the_protocol() -> None:
    assert get_args(WaitingRequest) == WAITING_REQUESTS
    assert get_args(QuestionRequest) == QUESTION_REQUESTS
    assert set(TOOL_REQUESTS) <= set(CLIENT_MESSAGES)


@pytest.mark.parametrize("model", TOOL_REQUESTS, ids=type_of)
def test_each_is_passed_to_its_tool(model: type) -> None:
    tag = type_of(model)
    message = decode(encode({"type": tag, "rid": "r1", **EXAMPLES[tag]}, Codec.JSON), Codec.JSON)
    assert type(message) is model
    [effect] = host().handle(message, 0.0)
    tool = ManageWaitingRoom if model in WAITING_REQUESTS else HandleQuestion
    assert isinstance(effect, tool)
    assert effect.message is message
    assert effect.rid == "r1"


def test_a_closed_participant_passes_nothing_on() -> None:
    logic: ParticipantLogic = host()
    logic.handle(decode('{"type":"leave"}', Codec.JSON), 0.0)
    message = decode('{"type":"waiting-room","enabled":true}', Codec.JSON)
    assert logic.handle(message, 0.0) == []


async def test_every_tool_request_reaches_its_handler(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, _b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    for i, model in enumerate(TOOL_REQUESTS):
        tag = type_of(model)
        await teacher.send({"type": tag, "rid": f"r{i}", **EXAMPLES[tag]})
        answer = await reply(teacher, f"r{i}")
        assert answer["type"] == "ack" or answer["code"] not in NOT_HANDLED, (tag, answer)
