"""Polls over WebSocket and REST, end to end on two nodes (tests/signaling/harness.py): the
host asks, students vote (and change their vote), the host sees a live tally, closes and
shares; the room and REST readers see what they may. Runs on both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from api.settings import Settings
from signaling.hub import Hub
from tests.conftest import NewSession, People, bearer
from tests.signaling.harness import Client, reply
from tests.signaling.test_hub import join

QUIZ = {
    "type": "poll-create",
    "question": "Which planet is largest?",
    "options": ["Mars", "Jupiter", "Venus"],
    "correct": [1],
    "rid": "c1",
}


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(chat_rate_per_second=1000, chat_burst=1000)


async def tally_with(c: Client, voters: int) -> dict[str, Any]:
    return await c.until(lambda m: m["type"] == "poll-tally" and m["voters"] == voters)


async def test_a_quiz_from_launch_to_shared_results(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    s1 = await join(client, b, sid, people.student)
    s2 = await join(client, a, sid, people.student2)

    await teacher.send(QUIZ)
    ack = await reply(teacher, "c1")
    assert ack["type"] == "ack"
    assert ack["status"] == "open"
    pid = ack["poll"]
    for c in (teacher, s1, s2):
        shown = await c.next("poll")
        assert shown["poll"]["id"] == pid
        assert shown["poll"]["status"] == "open"
        assert shown["poll"]["quiz"] is True
        assert "correct" not in shown["poll"]  # the answer stays hidden while it runs
        assert isinstance(shown["seq"], int)

    await s1.send({"type": "poll-vote", "poll": pid, "choices": [0], "rid": "v1"})
    assert (await reply(s1, "v1"))["choices"] == [0]
    await s2.send({"type": "poll-vote", "poll": pid, "choices": [1], "rid": "v2"})
    assert (await reply(s2, "v2"))["type"] == "ack"
    live = await tally_with(teacher, 2)
    assert live["counts"] == [1, 1, 0]
    assert {b["userId"]: b["choices"] for b in live["ballots"]} == {
        "student-1": [0],
        "student-2": [1],
    }
    # s1 changes their mind: still one vote each.
    await s1.send({"type": "poll-vote", "poll": pid, "choices": [1], "rid": "v3"})
    assert (await reply(s1, "v3"))["choices"] == [1]
    live = await teacher.until(lambda m: m["type"] == "poll-tally" and m["counts"] == [0, 2, 0])
    assert live["voters"] == 2
    # Students never see the live tally.
    assert not [m for m in s1.drain_now() + s2.drain_now() if m["type"] == "poll-tally"]

    await teacher.send({"type": "poll-close", "poll": pid, "rid": "x"})
    assert (await reply(teacher, "x"))["status"] == "closed"
    for c in (s1, s2):
        assert (await c.next("poll"))["poll"]["status"] == "closed"
    await s2.send({"type": "poll-vote", "poll": pid, "choices": [2], "rid": "late"})
    assert (await reply(s2, "late"))["code"] == "poll_not_open"

    # Before sharing, a student reads no results over REST; the host does.
    url = f"/api/v1/sessions/{sid}/polls/{pid}"
    mine = (await client.get(url, headers=people.student)).json()
    assert mine["counts"] is None
    assert mine["correct"] is None
    assert mine["myChoices"] == [1]
    assert mine["ballots"] is None
    host_view = (await client.get(url, headers=people.teacher)).json()
    assert host_view["counts"] == [0, 2, 0]
    assert host_view["correct"] == [1]

    await teacher.send({"type": "poll-share", "poll": pid, "rid": "s"})
    assert (await reply(teacher, "s"))["type"] == "ack"
    for c in (teacher, s1, s2):
        results = await c.next("poll-results")
        assert results["counts"] == [0, 2, 0]
        assert results["voters"] == 2
        assert results["poll"]["correct"] == [1]
    shared = (await client.get(url, headers=people.student)).json()
    assert shared["counts"] == [0, 2, 0]
    assert shared["correct"] == [1]
    assert shared["ballots"] is None  # who voted what stays the host's
    listed = (await client.get(f"/api/v1/sessions/{sid}/polls", headers=people.student)).json()
    assert [p["id"] for p in listed["polls"]] == [pid]


async def test_who_may_do_what(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    student = await join(client, b, sid, people.student)
    admin = await join(client, a, sid, people.admin)  # a hidden observer

    await student.send({**QUIZ, "rid": "s"})
    assert (await reply(student, "s"))["code"] == "forbidden"
    await teacher.send({**QUIZ, "rid": "t"})
    pid = (await reply(teacher, "t"))["poll"]
    await teacher.send({"type": "poll-vote", "poll": pid, "choices": [0], "rid": "tv"})
    assert (await reply(teacher, "tv"))["code"] == "forbidden"
    await admin.send({"type": "poll-vote", "poll": pid, "choices": [0], "rid": "av"})
    assert (await reply(admin, "av"))["code"] == "forbidden"
    await student.send({"type": "poll-close", "poll": pid, "rid": "sc"})
    assert (await reply(student, "sc"))["code"] == "forbidden"
    await student.send({"type": "poll-vote", "poll": pid, "choices": [7], "rid": "bad"})
    assert (await reply(student, "bad"))["code"] == "invalid_choice"
    await student.send({"type": "poll-vote", "poll": pid, "choices": "x", "rid": "junk"})
    assert (await reply(student, "junk"))["code"] == "invalid_message"
    await student.send({"type": "poll-vote", "poll": "nope", "choices": [0], "rid": "nf"})
    assert (await reply(student, "nf"))["code"] == "poll_not_found"
    await teacher.send({**QUIZ, "options": ["only"], "rid": "one"})
    assert (await reply(teacher, "one"))["code"] == "invalid_poll"
    await teacher.send({"type": "poll-share", "poll": pid, "rid": "early"})
    assert (await reply(teacher, "early"))["code"] == "poll_open"
    # A student's REST calls to run polls are refused; an outsider sees no session.
    url = f"/api/v1/sessions/{sid}/polls"
    response = await client.post(
        url, json={"question": "q", "options": ["a", "b"]}, headers=people.student
    )
    assert response.status_code == 403
    response = await client.post(f"{url}/{pid}/close", headers=people.student)
    assert response.status_code == 403
    assert (await client.get(url, headers=people.outsider)).status_code == 404


async def test_rest_runs_a_poll_and_the_room_hears_it(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, _ = nodes
    sid = (await new_session(start=True))["id"]
    student = await join(client, a, sid, people.student)
    url = f"/api/v1/sessions/{sid}/polls"
    draft = {"question": "Anonymous: how was it?", "options": ["good", "bad"], "anonymous": True}
    created = await client.post(url, json=draft, headers=people.teacher)
    assert created.status_code == 201, created.text
    poll = created.json()
    assert poll["status"] == "draft"
    # A student does not see a draft.
    listed = await client.get(url, headers=people.student)
    assert listed.json()["polls"] == []
    assert (await client.get(f"{url}/{poll['id']}", headers=people.student)).status_code == 404
    launched = await client.post(f"{url}/{poll['id']}/launch", headers=people.teacher)
    assert launched.json()["status"] == "open"
    assert (await student.next("poll"))["poll"]["anonymous"] is True
    again = await client.post(f"{url}/{poll['id']}/launch", headers=people.teacher)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "poll_not_draft"
    await student.send({"type": "poll-vote", "poll": poll["id"], "choices": [0], "rid": "v"})
    assert (await reply(student, "v"))["type"] == "ack"
    host = (await client.get(f"{url}/{poll['id']}", headers=people.teacher)).json()
    assert host["counts"] == [1, 0]
    assert host["ballots"] is None  # anonymous: not even the host sees who
    bad = await client.post(url, json={"question": "q", "options": ["a"]}, headers=people.teacher)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_poll"


async def test_an_anonymous_tally_names_nobody(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    student = await join(client, b, sid, bearer("s7", name="Sven"))
    await teacher.send({**QUIZ, "anonymous": True, "rid": "c"})
    pid = (await reply(teacher, "c"))["poll"]
    await student.next("poll")
    await student.send({"type": "poll-vote", "poll": pid, "choices": [2], "rid": "v"})
    live = await tally_with(teacher, 1)
    assert live["counts"] == [0, 0, 1]
    assert "ballots" not in live
