"""Breakout rooms (issue 17) on two nodes, over WebSocket and REST, on both backends: the host
splits the class, students move to their room (its own presence, chat, capacity), the host
broadcasts and visits, and calls everyone back; bad requests get the documented errors."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.services import Services
from rooms.breakout_store import BreakoutRoom
from rooms.store.tables import SessionRow
from rooms.store.types import utcnow
from signaling.hub import Hub
from tests.conftest import NewSession, People, bearer
from tests.signaling.harness import Client, connect, fast_chat, join, reply

pytestmark = fast_chat

STUDENTS = [bearer(f"kid-{i}", "student", name=f"Kid {i}") for i in range(4)]


async def seat(hub: Hub, token: str) -> Client:
    client, admitted = await connect(hub, token)
    assert admitted, await client.next("error")
    client.welcome = await client.next("welcome")
    return client


async def open_class(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> tuple[str, Client, list[Client]]:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    kids = [await join(client, (a, b)[i % 2], sid, who) for i, who in enumerate(STUDENTS)]
    return sid, teacher, kids


async def test_rooms_of_two_chat_apart_and_come_back(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid, teacher, kids = await open_class(client, people, new_session, nodes)

    await teacher.send({"type": "breakout-open", "rooms": 2, "rid": "open"})
    ack = await reply(teacher, "open")
    assert ack["type"] == "ack", ack
    assert [r["name"] for r in ack["rooms"]] == ["Room 1", "Room 2"]
    state = await teacher.next("breakouts")
    assert state["open"] is True
    assert sorted(len(r["members"]) for r in state["rooms"]) == [2, 2]

    # Every student is told where to go, with a token for that room only.
    moves = [await kid.next("breakout") for kid in kids]
    assert {m["parent"] for m in moves} == {sid}
    by_room: dict[str, list[int]] = {}
    for i, move in enumerate(moves):
        by_room.setdefault(move["room"]["id"], []).append(i)
    assert sorted(len(v) for v in by_room.values()) == [2, 2]
    room1, room2 = (r["id"] for r in ack["rooms"])

    # They leave the main room and enter their own (alternating nodes).
    inside: dict[int, Client] = {}
    for i, kid in enumerate(kids):
        await kid.send({"type": "leave", "rid": "bye"})
        assert await kid.closed() == 1000
        inside[i] = await seat((b, a)[i % 2], moves[i]["token"])
        welcome = inside[i].welcome
        assert welcome["room"]["id"] == moves[i]["room"]["id"]
        assert welcome["grants"]["publish"] is True  # their camera and microphone, in the room
        told = await inside[i].next("breakout")  # after the welcome: which room, which class
        assert told["parent"] == sid
        assert "token" not in told

    first, second = by_room[room1], by_room[room2]
    # Each room has its own presence: two people, capacity two (the host takes no seat).
    last = inside[first[1]]
    assert last.welcome["count"] == 2
    assert last.welcome["room"]["capacity"] == 2

    # Chat inside room 1 reaches room 1 only.
    await inside[first[0]].send({"type": "chat", "text": "secret of room 1", "rid": "c"})
    assert (await reply(inside[first[0]], "c"))["type"] == "ack"
    heard = await inside[first[1]].until(lambda m: m["type"] == "chat")
    assert heard["text"] == "secret of room 1"
    await inside[second[0]].send({"type": "chat", "text": "room 2 here", "rid": "c2"})
    got = await inside[second[1]].until(lambda m: m["type"] == "chat")
    assert got["text"] == "room 2 here"  # the first chat it sees is its own room's

    # A student of room 2 cannot take room 1 (REST token refused; room 1 is full anyway).
    refused = await client.post(f"/api/v1/sessions/{room1}/token", headers=STUDENTS[second[0]])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_in_breakout"

    # The host's message reaches every room and the main room.
    await teacher.send({"type": "breakout-broadcast", "text": "Two minutes left", "rid": "b"})
    assert (await reply(teacher, "b"))["count"] == 2
    for c in [teacher, *inside.values()]:
        notice = await c.next("breakout-notice")
        assert notice["text"] == "Two minutes left"
        assert notice["by"]["name"] == "Tina Teacher"

    # The host visits room 2 (a host's token: no seat taken).
    await teacher.send({"type": "breakout-visit", "room": room2, "rid": "v"})
    visit = await reply(teacher, "v")
    visitor = await seat(b, visit["token"])
    assert visitor.welcome["participant"]["role"] == "host"
    assert visitor.welcome["seats"] == 2

    # REST lists them, with time in the room so far.
    listed = await client.get(f"/api/v1/sessions/{sid}/breakouts", headers=people.teacher)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["open"] is True
    assert [r["status"] for r in body["rooms"]] == ["live", "live"]
    members = [m for r in body["rooms"] for m in r["members"]]
    assert sorted(m["userId"] for m in members) == sorted(f"kid-{i}" for i in range(4))
    # The catalogue does not list breakout rooms.
    catalogue = await client.get("/api/v1/sessions", headers=people.teacher)
    assert [s["id"] for s in catalogue.json()["sessions"]] == [sid]

    # Call everyone back.
    await teacher.send({"type": "breakout-close", "rid": "close"})
    assert (await reply(teacher, "close"))["count"] == 2
    assert (await teacher.next("breakouts"))["open"] is False
    for c in [*inside.values(), visitor]:
        ended = await c.next("breakout-ended")
        assert ended["parent"] == sid
        assert await c.closed() == 1000
    back = [await join(client, a, sid, who) for who in STUDENTS]
    assert back[-1].welcome["count"] == 5
    assert not [m for m in back[-1].drain_now() if m["type"] == "breakout"]
    closed = await client.get(f"/api/v1/sessions/{sid}/breakouts", headers=people.teacher)
    assert closed.json()["open"] is False
    assert all(r["status"] == "ended" and r["endedAt"] for r in closed.json()["rooms"])
    assert all(m["timeInRoom"] >= 0 for r in closed.json()["rooms"] for m in r["members"])
    # Attendance follows them: the class's report holds each student's stay in the main
    # room, in their breakout room, and in the main room again.
    report = await client.get(f"/api/v1/sessions/{sid}/attendance", headers=people.teacher)
    assert report.status_code == 200
    kid = next(u for u in report.json()["participants"] if u["userId"] == "kid-0")
    assert len(kid["joins"]) == 3


async def test_refusals(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    sid, teacher, kids = await open_class(client, people, new_session, nodes)

    async def error(c: Client, message: dict[str, Any]) -> str:
        await c.send({**message, "rid": "x"})
        answer = await reply(c, "x")
        assert answer["type"] == "error", answer
        return str(answer["code"])

    assert await error(kids[0], {"type": "breakout-open", "rooms": 2}) == "forbidden"
    assert await error(teacher, {"type": "breakout-open", "rooms": 0}) == "invalid_message"
    bad = {"type": "breakout-open", "rooms": 2, "assignments": {"kid-0": 5}}
    assert await error(teacher, bad) == "invalid_breakout"
    assert await error(teacher, {"type": "breakout-open", "rooms": 2, "duration": 5}) == (
        "invalid_message"
    )
    assert await error(teacher, {"type": "breakout-broadcast", "text": "hi"}) == "no_breakouts"
    assert await error(teacher, {"type": "breakout-visit", "room": "nope"}) == (
        "breakout_not_found"
    )
    # By hand: kid-0 and kid-1 together, the others stay.
    manual = {"type": "breakout-open", "rooms": 1, "assignments": {"kid-0": 0, "kid-1": 0}}
    await teacher.send({**manual, "rid": "m"})
    room = (await reply(teacher, "m"))["rooms"][0]["id"]
    assert await error(teacher, manual) == "breakouts_open"
    move = await kids[0].next("breakout")
    assert not [m for m in kids[2].drain_now() if m["type"] == "breakout"]
    # Inside a room, nobody runs breakouts (not even a visiting host).
    inside = await seat(nodes[1], move["token"])
    assert await error(inside, {"type": "breakout-close"}) == "forbidden"
    rest = await client.post(
        f"/api/v1/sessions/{room}/breakouts", headers=people.teacher, json={"rooms": 1}
    )
    assert rest.status_code == 409
    assert rest.json()["error"]["code"] == "invalid_state"
    # A student who reloads the main room is sent to their room again.
    again = await join(client, nodes[0], sid, STUDENTS[1])
    assert (await again.next("breakout"))["room"]["id"] == room
    # Students do not read the list.
    listed = await client.get(f"/api/v1/sessions/{sid}/breakouts", headers=STUDENTS[0])
    assert listed.status_code == 403


async def test_timer_and_end_of_class_close_the_rooms(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    nodes: tuple[Hub, Hub],
    services: Services,
) -> None:
    a, b = nodes
    sid, teacher, kids = await open_class(client, people, new_session, nodes)
    opened = await client.post(
        f"/api/v1/sessions/{sid}/breakouts",
        headers=people.teacher,
        json={"rooms": 2, "duration": 60, "names": ["Lions", "Tigers"]},
    )
    assert opened.status_code == 201, opened.text
    rooms = opened.json()["rooms"]
    assert [r["name"] for r in rooms] == ["Lions", "Tigers"]
    assert rooms[0]["endsAt"]
    move = await kids[0].next("breakout")
    assert move["endsAt"] > 0
    inside = await seat(a, move["token"])
    # The timer's job (what call_later runs after `duration`), driven directly.
    await a.breakouts._time_up(sid, {r["id"] for r in rooms})
    assert (await inside.next("breakout-ended"))["reason"] == "time is up"
    assert await inside.closed() == 1000

    # Rooms whose timer is overdue (the node that opened them stopped before it rang) are
    # closed by the next welcome in the main room, on any node.
    await teacher.send({"type": "breakout-open", "rooms": 1, "duration": 60, "rid": "late"})
    late = (await reply(teacher, "late"))["rooms"][0]["id"]
    move = await kids[2].until(lambda m: m["type"] == "breakout" and m["room"]["id"] == late)
    inside = await seat(b, move["token"])
    async with services.database.transaction() as tx:
        row = await tx.get(SessionRow, late)
        assert row is not None
        past = (utcnow() - timedelta(seconds=5)).isoformat()
        row.meta = {"breakout": {**row.meta["breakout"], "endsAt": past}}
    b.breakouts._open.clear()  # what node b read of the rooms is trusted for 2 s
    await join(client, b, sid, people.admin)
    assert (await inside.next("breakout-ended"))["reason"] == "time is up"
    assert await inside.closed() == 1000

    await teacher.send({"type": "breakout-open", "rooms": 1, "rid": "o"})
    room = (await reply(teacher, "o"))["rooms"][0]["id"]
    move = await kids[1].until(lambda m: m["type"] == "breakout" and m["room"]["id"] == room)
    inside = await seat(a, move["token"])
    ended = await client.post(f"/api/v1/sessions/{sid}/end", headers=people.teacher)
    assert ended.status_code == 200
    assert (await inside.next("breakout-ended"))["reason"] == "the class ended"
    assert await inside.closed() == 1000


async def test_the_host_moves_students_between_rooms(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    _, teacher, kids = await open_class(client, people, new_session, nodes)
    # kid-0 alone in Room 1, Room 2 empty; the others stay in the main room.
    await teacher.send(
        {"type": "breakout-open", "rooms": 2, "assignments": {"kid-0": 0}, "rid": "o"}
    )
    room1, room2 = (r["id"] for r in (await reply(teacher, "o"))["rooms"])
    inside = await seat(b, (await kids[0].next("breakout"))["token"])
    assert inside.welcome["room"]["capacity"] == 1

    # kid-0 moves to Room 2: told where they are (in Room 1), and Room 2 now has their seat.
    await teacher.send({"type": "breakout-move", "userId": "kid-0", "room": room2, "rid": "m"})
    assert (await reply(teacher, "m"))["room"] == room2
    move = await inside.until(lambda m: m["type"] == "breakout" and "token" in m)
    assert move["room"]["id"] == room2
    state = await teacher.until(lambda m: m["type"] == "breakouts" and not m["rooms"][0]["members"])
    assert [m["userId"] for m in state["rooms"][1]["members"]] == ["kid-0"]
    await inside.send({"type": "leave", "rid": "l"})
    moved = await seat(a, move["token"])
    assert moved.welcome["room"]["id"] == room2
    gone = await client.post(f"/api/v1/sessions/{room1}/token", headers=STUDENTS[0])
    assert gone.status_code == 403

    # A student from the main room joins Room 2 (its capacity grows to two).
    await teacher.send({"type": "breakout-move", "userId": "kid-3", "room": room2, "rid": "m2"})
    assert (await reply(teacher, "m2"))["type"] == "ack"
    second = await seat(b, (await kids[3].next("breakout"))["token"])
    assert second.welcome["count"] == 2
    assert second.welcome["room"]["id"] == room2

    # Back to the main room; unknown rooms are refused.
    await teacher.send({"type": "breakout-move", "userId": "kid-0", "room": None, "rid": "m3"})
    assert (await reply(teacher, "m3"))["type"] == "ack"
    assert (await moved.next("breakout-ended"))["reason"] == "the host moved you"
    await teacher.send({"type": "breakout-move", "userId": "kid-1", "room": "nope", "rid": "x"})
    assert (await reply(teacher, "x"))["code"] == "breakout_not_found"
    await kids[1].send({"type": "breakout-move", "userId": "kid-1", "room": room1, "rid": "y"})
    assert (await reply(kids[1], "y"))["code"] == "forbidden"


async def test_a_join_storm_asks_the_store_for_the_open_rooms_once(
    new_session: NewSession, nodes: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every welcome looks for open breakout rooms; joins that miss the cache together share
    one query (each its own was a query per join of a storm), and a join that goes away does
    not cancel it for the others."""
    desk = nodes[0].breakouts
    sid = (await new_session(start=True))["id"]
    release = asyncio.Event()
    queries: list[str] = []
    real = desk.store.rooms

    async def rooms(session_id: str, *, open_only: bool = False) -> list[BreakoutRoom]:
        queries.append(session_id)
        await release.wait()
        return await real(session_id, open_only=open_only)

    monkeypatch.setattr(desk.store, "rooms", rooms)
    joins = [asyncio.create_task(desk._open_rooms(sid)) for _ in range(50)]
    await asyncio.sleep(0)  # every join is waiting for the one query
    joins[0].cancel()
    release.set()
    results = await asyncio.gather(*joins[1:])
    assert queries == [sid]
    assert results == [[]] * 49
    assert await desk._open_rooms(sid) == []  # cached now
    assert queries == [sid]
