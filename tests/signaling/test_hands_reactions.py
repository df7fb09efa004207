"""The host lowers hands, everyone reacts (signaling/teaching.py), on two nodes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from api.settings import Settings
from signaling.hub import Hub
from tests.conftest import NewSession, People, bearer
from tests.signaling.harness import reply
from tests.signaling.test_hub import join


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(chat_rate_per_second=1000, chat_burst=1000)


async def test_the_host_lowers_one_hand_or_all(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    s1 = await join(client, b, sid, people.student)
    s2 = await join(client, a, sid, people.student2)
    s1_id = s1.welcome["participant"]["id"]  # type: ignore[attr-defined]
    for c in (s1, s2):
        await c.send({"type": "hand", "raised": True, "rid": "h"})
        assert (await reply(c, "h"))["type"] == "ack"

    await s2.send({"type": "hand-lower", "target": s1_id, "rid": "no"})
    assert (await reply(s2, "no"))["code"] == "forbidden"
    await teacher.send({"type": "hand-lower", "target": s1_id, "rid": "one"})
    assert (await reply(teacher, "one"))["type"] == "ack"
    for c in (teacher, s1, s2):
        lowered = await c.until(lambda m: m["type"] == "hand" and not m["raised"])
        assert lowered["from"]["id"] == s1_id
        assert lowered["by"]["userId"] == "teacher-1"
        assert isinstance(lowered["seq"], int)
    await teacher.send({"type": "hand-lower", "target": "p_gone", "rid": "gone"})
    assert (await reply(teacher, "gone"))["code"] == "participant_not_found"

    await teacher.send({"type": "hand-lower", "rid": "all"})
    assert (await reply(teacher, "all"))["type"] == "ack"
    for c in (teacher, s1, s2):
        everyone = await c.next("hands-lowered")
        assert everyone["by"]["name"] == "Tina Teacher"


async def test_reactions_are_batched_checked_and_limited(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    students = [await join(client, a, sid, bearer(f"r{i}", name=f"Reactor {i}")) for i in range(5)]
    far = await join(client, b, sid, people.student)
    for i, s in enumerate(students):
        await s.send({"type": "react", "emoji": "👏", "rid": f"r{i}"})
        assert (await reply(s, f"r{i}"))["type"] == "ack"
    # Five reactions on one node in one window: one message for everyone, on both nodes.
    for c in (teacher, far):
        got = await c.next("reactions")
        assert got["counts"] == {"👏": 5}
        assert got["names"] == ["Reactor 0", "Reactor 1", "Reactor 2"]
        assert not [m for m in c.drain_now() if m["type"] == "reactions"]

    await far.send({"type": "react", "emoji": "💩", "rid": "bad"})
    assert (await reply(far, "bad"))["code"] == "invalid_message"
    codes = []
    for i in range(5):  # a burst of 3, then one a second
        await far.send({"type": "react", "emoji": "👍", "rid": f"f{i}"})
        answer = await reply(far, f"f{i}")
        codes.append(answer.get("code", "ok"))
    assert codes == ["ok", "ok", "ok", "rate_limited", "rate_limited"]
    admin = await join(client, a, sid, people.admin)
    await admin.send({"type": "react", "emoji": "👍", "rid": "obs"})
    assert (await reply(admin, "obs"))["code"] == "forbidden"
