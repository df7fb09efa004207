"""Hands raised and talk time in the teacher's analytics (issue 17), on both backends:
the counters' store (rooms/activity.py), hands counted by the hub as they are raised, talk
time counted by the node holding each speaker from the SFU's ``speakers`` messages
(signaling/talk_time.py), and both in the REST JSON and CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import httpx
import pytest

from api.services import Services
from media.worker_outbox import speakers_message
from rooms.bus_events import RoomMessage
from signaling.hub import Hub
from tests.conftest import FakeClock, NewSession, People
from tests.signaling.harness import Client, class_of_three, fast_chat, reply

pytestmark = fast_chat

#: The test's clock is the wall clock moved on, so real time adds to what it counts: up to
#: 0.5 s on a slow 2-core VM. Still far from a count made twice or not at all.
SLACK = 0.9


async def test_the_store_adds_hands_and_talk_per_user_and_session(
    services: Services, new_session: NewSession
) -> None:
    store = services.hub.activity
    sid = (await new_session())["id"]
    other = (await new_session())["id"]
    # concurrent additions (several nodes) all count
    await asyncio.gather(*(store.hand_raised(sid, "u1") for _ in range(5)))
    await store.hand_raised(other, "u1")
    await store.add_talk(sid, {"u1": 1.25, "u2": 2.0, "u3": 0.0})
    await store.add_talk(sid, {"u2": 0.5})
    await store.add_talk(sid, {})
    got = await store.by_user(sid)
    assert set(got) == {"u1", "u2"}  # nothing for u3, who spoke 0 s
    assert (got["u1"].hands_raised, got["u1"].talk_seconds) == (5, 1.2)  # rounded to 0.1 s
    assert (got["u2"].hands_raised, got["u2"].talk_seconds) == (0, 2.5)
    assert (await store.by_user(other))["u1"].hands_raised == 1
    assert await store.by_user("no-such-session") == {}


async def _analytics(client: httpx.AsyncClient, sid: str, people: People) -> dict[str, Any]:
    response = await client.get(f"/api/v1/sessions/{sid}/analytics", headers=people.teacher)
    assert response.status_code == 200, response.text
    return {r["userId"]: r for r in response.json()["perStudent"]}


async def _csv(client: httpx.AsyncClient, sid: str, people: People) -> dict[str, Any]:
    response = await client.get(f"/api/v1/sessions/{sid}/analytics.csv", headers=people.teacher)
    return {r["userId"]: r for r in csv.DictReader(io.StringIO(response.text))}


async def test_hands_raised_are_counted_per_student(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    sid = (await new_session(start=True))["id"]
    teacher, s1, _ = await class_of_three(client, nodes, sid, people)
    for i, raised in enumerate([True, False, True, True]):
        await s1.send({"type": "hand", "raised": raised, "rid": f"h{i}"})
        assert (await reply(s1, f"h{i}"))["type"] == "ack"
    await teacher.send({"type": "hand", "raised": True, "rid": "t"})
    await reply(teacher, "t")

    rows = await _analytics(client, sid, people)
    assert rows["student-1"]["handsRaised"] == 3  # raising, not lowering, counts
    assert rows["student-2"]["handsRaised"] == 0
    assert "teacher-1" not in rows
    table = await _csv(client, sid, people)
    assert table["student-1"]["handsRaised"] == "3"
    assert table["student-2"]["handsRaised"] == "0"
    assert table["student-2"]["talkSeconds"] == "0.0"


async def _speakers(services: Services, sid: str, who: list[str], *hearers: Client) -> None:
    """The SFU says ``who`` speak; returns once each of ``hearers`` got it (so their node
    counted it: it counts before it fans out)."""
    bus = services.new_bus()
    message = speakers_message({"speakers": who, "muted": []})
    await bus.publish(RoomMessage(sid, message, "worker-test"))
    for c in hearers:
        await c.until(lambda m: m["type"] == "speakers" and m["speakers"] == who)
    await bus.close()


async def test_talk_time_is_counted_by_the_speakers_node_and_written_in_batches(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    nodes: tuple[Hub, Hub],
    services: Services,
    clock: FakeClock,
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    _, s1, s2 = await class_of_three(client, nodes, sid, people)  # s1 on b, s2 on a
    sam, sue = s1.welcome["participant"]["id"], s2.welcome["participant"]["id"]

    await _speakers(services, sid, [sam], s1, s2)
    clock.advance(1.0)
    await _speakers(services, sid, [sam, sue], s1, s2)  # the SFU's repeat, and Sue starts
    clock.advance(1.5)
    await _speakers(services, sid, [sam], s1, s2)
    assert (await _analytics(client, sid, people))["student-1"]["talkSeconds"] == 0  # batched
    clock.advance(0.5)
    await _speakers(services, sid, [], s1, s2)
    clock.advance(2.0)  # silence counts nothing
    await a.talk.flush()
    await b.talk.flush()
    rows = await _analytics(client, sid, people)
    # (the test's clock is the wall clock moved on: real time adds a little)
    assert rows["student-1"]["talkSeconds"] == pytest.approx(3.0, abs=SLACK)  # once, on b
    assert rows["student-2"]["talkSeconds"] == pytest.approx(1.5, abs=SLACK)
    before = rows["student-2"]["talkSeconds"]

    # A speaker who leaves counts up to their leave (not the 3 s cap a lost update gets).
    await _speakers(services, sid, [sue], s2)
    clock.advance(2.0)
    await s2.send({"type": "leave", "rid": "bye"})
    await reply(s2, "bye")
    clock.advance(5.0)
    await a.talk.flush()  # after the one the leave started
    talked = float((await _csv(client, sid, people))["student-2"]["talkSeconds"])
    assert talked - before == pytest.approx(2.0, abs=SLACK)


async def test_the_openapi_document_describes_hands_and_talk_time(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    student = doc["components"]["schemas"]["StudentAnalyticsOut"]
    assert {"handsRaised", "talkSeconds"} <= set(student["required"])
    assert student["properties"]["handsRaised"]["type"] == "integer"
    assert student["properties"]["talkSeconds"]["type"] == "number"
    assert "active speaker" in student["properties"]["talkSeconds"]["description"]


async def test_the_end_of_the_class_stops_the_count_of_who_was_speaking(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    nodes: tuple[Hub, Hub],
    services: Services,
    clock: FakeClock,
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher, s1, _ = await class_of_three(client, nodes, sid, people)
    await _speakers(services, sid, [s1.welcome["participant"]["id"]], s1)
    clock.advance(1.0)
    await teacher.send({"type": "end", "rid": "end"})
    await s1.next("room-ended")
    clock.advance(10.0)  # a count left running would reach the 3 s cap
    await a.talk.flush()
    await b.talk.flush()
    rows = await _analytics(client, sid, people)
    assert rows["student-1"]["talkSeconds"] == pytest.approx(1.0, abs=SLACK)
