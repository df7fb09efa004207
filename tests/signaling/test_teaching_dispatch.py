"""Every teaching request reaches its handler in ``Teaching._handle`` (signaling/teaching.py).

``ParticipantLogic.handle`` passes every teaching request on (``Teach``; its dispatch is
checked in test_participant_dispatch.py); this test sends one of each, from the union itself,
through a hub to the teaching tools. A model added to
:data:`~rooms.teaching_messages.TeachingRequest` without a ``case`` there reaches
``assert_never``, which the hub answers as ``unavailable``: that fails here (and mypy fails
first). Each must be answered by its own handler: an ``ack``, or a domain error (a poll that
does not exist, a vote from the host).
"""

from __future__ import annotations

from typing import get_args

import httpx

from rooms.protocol_models import type_of
from rooms.teaching_messages import TEACHING_REQUESTS, TeachingRequest
from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.signaling.harness import join, reply
from tests.signaling.test_participant_dispatch import EXAMPLES

#: Answers that mean the request never reached a handler of its own.
NOT_HANDLED = {"unknown_type", "invalid_message", "unavailable", "rate_limited"}


def test_the_teaching_list_is_the_union() -> None:
    assert get_args(TeachingRequest) == TEACHING_REQUESTS


async def test_every_teaching_request_reaches_its_handler(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, _b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    for i, model in enumerate(TEACHING_REQUESTS):
        tag = type_of(model)
        await teacher.send({"type": tag, "rid": f"r{i}", **EXAMPLES[tag]})
        answer = await reply(teacher, f"r{i}")
        assert answer["type"] == "ack" or answer["code"] not in NOT_HANDLED, (tag, answer)
