"""The waiting room (issue 17) on two nodes, over WebSocket and REST: students wait unseated
and uncounted, the host sees the list live and lets them in or refuses them, one or all;
capacity still holds; the class's end sends the waiting home."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from signaling import close_codes
from signaling.connection import Connection
from signaling.hub import Hub
from signaling.protocol import Codec, encode
from tests.conftest import NewSession, People
from tests.signaling.harness import (
    Client,
    FakeTransport,
    connect,
    fast_chat,
    join,
    reply,
    room_token,
)

pytestmark = fast_chat


@dataclass
class Waiting:
    """A student's connection while it waits: ``frames`` is what the client sends (None:
    it went away); ``joined`` ends with the hub's answer (True once seated)."""

    client: Client
    frames: asyncio.Queue[str | bytes | None]
    joined: asyncio.Task[bool]

    async def say(self, message: dict[str, object]) -> None:
        await self.frames.put(encode(message, Codec.JSON))


async def wait_in(hub: Hub, token: str) -> Waiting:
    transport = FakeTransport()
    conn = Connection(transport, Codec.JSON)
    frames: asyncio.Queue[str | bytes | None] = asyncio.Queue()
    task = asyncio.create_task(hub.join(conn, token, receive=frames.get))
    waiting = Waiting(Client(hub, conn, transport, Codec.JSON), frames, task)
    first = await waiting.client.next(lambda m: m["type"] in ("waiting", "welcome", "error"))
    assert first["type"] == "waiting", first
    return waiting


async def lists(host: Client, names: list[str]) -> dict[str, Any]:
    """The host's waiting lists, taken in order, until one names ``names`` (earlier ones are
    consumed: a stale list never passes for the current one)."""
    while True:
        message = await host.next("waiting-list")
        if [w["name"] for w in message["waiting"]] == names:
            return message


async def test_students_wait_until_the_host_lets_them_in_or_refuses_them(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True, title="Waiting algebra"))["id"]
    teacher = await join(client, a, sid, people.teacher)
    assert (await teacher.next("waiting-list")) == {
        "type": "waiting-list",
        "enabled": False,
        "waiting": [],
    }
    await teacher.send({"type": "waiting-room", "enabled": True, "rid": "on"})
    assert (await reply(teacher, "on")) == {"type": "ack", "rid": "on", "enabled": True}

    sam = await wait_in(b, await room_token(client, sid, people.student))
    waiting_msg = sam.client.inbox.drain()
    assert waiting_msg == [] or all(m["type"] != "welcome" for m in waiting_msg)
    sue = await wait_in(a, await room_token(client, sid, people.student2))
    # The host (on the other node than Sam) sees both, the longest-waiting first.
    seen = await lists(teacher, ["Sam Student", "Sue Second"])
    sam_id, sue_id = (w["id"] for w in seen["waiting"])
    # Waiting is not presence: nobody is counted, and the room's messages do not reach them.
    count = await client.get(f"/api/v1/sessions/{sid}/participants", headers=people.teacher)
    assert count.json()["activeCount"] == 1
    await teacher.send({"type": "chat", "text": "only for the seated", "rid": "c"})
    assert (await reply(teacher, "c"))["type"] == "ack"
    await sam.say({"type": "chat", "text": "let me in", "rid": "x"})
    refused = await sam.client.next("error")
    assert (refused["code"], refused["rid"]) == ("waiting", "x")
    await sam.say({"type": "ping", "ts": 1.5, "rid": "p"})
    assert (await sam.client.next("pong"))["ts"] == 1.5

    await teacher.send({"type": "waiting-admit", "id": sam_id, "rid": "in"})
    assert (await reply(teacher, "in"))["count"] == 1
    assert await asyncio.wait_for(sam.joined, 15) is True
    welcome = await sam.client.next("welcome")
    assert welcome["room"]["id"] == sid
    assert not [m for m in sam.client.drain_now() if m.get("text") == "only for the seated"]
    await teacher.until(
        lambda m: m["type"] == "presence" and [p["name"] for p in m["joined"]] == ["Sam Student"]
    )
    await lists(teacher, ["Sue Second"])

    await teacher.send({"type": "waiting-refuse", "id": sue_id, "rid": "out"})
    assert (await reply(teacher, "out"))["count"] == 1
    assert await asyncio.wait_for(sue.joined, 15) is False
    assert (await sue.client.next("waiting-refused"))["reason"]
    assert await sue.client.closed() == close_codes.FORBIDDEN
    await lists(teacher, [])

    # Sam, let in once, does not wait again when he comes back.
    again = await join(client, b, sid, people.student)
    assert again.welcome["participant"]["name"] == "Sam Student"
    # Deciding on somebody nobody waits with, and students deciding, are refused.
    await teacher.send({"type": "waiting-admit", "id": sue_id, "rid": "gone"})
    assert (await reply(teacher, "gone"))["code"] == "waiter_not_found"
    await again.send({"type": "waiting-admit", "rid": "s"})
    assert (await reply(again, "s"))["code"] == "forbidden"
    await teacher.send({"type": "waiting-room", "enabled": "maybe", "rid": "bad"})
    bad = await reply(teacher, "bad")
    assert bad["code"] == "invalid_message"
    assert bad["details"][0]["field"] == "enabled"


async def test_who_waits_is_decided_by_the_admission(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    """The admission's own round trip decides: a seated student who resumes never waits, a
    student the host removed is refused at once instead of waiting first, and a host never
    waits."""
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    sam = await join(client, b, sid, people.student)
    early_token = await room_token(client, sid, people.student2)
    sue = await join(client, a, sid, people.student2)
    await teacher.send({"type": "waiting-room", "enabled": True, "rid": "on"})
    assert (await reply(teacher, "on"))["enabled"] is True

    await sam.drop()
    resumed, admitted = await connect(
        a, await room_token(client, sid, people.student), resume=sam.welcome["resume"]
    )
    assert admitted
    assert (await resumed.next("welcome"))["resumed"] is True

    pid = sue.welcome["participant"]["id"]
    await teacher.send({"type": "kick", "target": pid, "reason": "spam", "rid": "k"})
    assert (await reply(teacher, "k"))["type"] == "ack"
    refused, admitted = await connect(b, early_token)
    assert not admitted
    assert (await refused.next(lambda m: m["type"] in ("waiting", "error")))["code"] == "banned"
    assert await refused.closed() == close_codes.FORBIDDEN

    host_again = await join(client, b, sid, people.teacher)
    assert host_again.welcome["participant"]["role"] == "host"
    assert (await host_again.next("waiting-list"))["enabled"] is True


async def test_a_waiting_student_who_leaves_is_off_the_list(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    put = await client.put(
        f"/api/v1/sessions/{sid}/waiting-room", json={"enabled": True}, headers=people.teacher
    )
    assert put.json() == {"enabled": True, "waiting": []}
    sam = await wait_in(b, await room_token(client, sid, people.student))
    await lists(teacher, ["Sam Student"])
    await sam.say({"type": "leave"})
    assert await asyncio.wait_for(sam.joined, 15) is False
    await lists(teacher, [])
    sue = await wait_in(b, await room_token(client, sid, people.student2))
    await lists(teacher, ["Sue Second"])
    await sue.frames.put(None)  # the network went away
    assert await asyncio.wait_for(sue.joined, 15) is False
    await lists(teacher, [])


async def test_letting_everyone_in_keeps_the_capacity_exactly(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True, maxParticipants=1))["id"]
    teacher = await join(client, a, sid, people.teacher)
    await teacher.send({"type": "waiting-room", "enabled": True, "rid": "on"})
    await reply(teacher, "on")
    sam = await wait_in(a, await room_token(client, sid, people.student))
    sue = await wait_in(b, await room_token(client, sid, people.student2))
    await lists(teacher, ["Sam Student", "Sue Second"])
    await teacher.send({"type": "waiting-admit", "rid": "all"})
    assert (await reply(teacher, "all"))["count"] == 2
    outcomes = await asyncio.wait_for(asyncio.gather(sam.joined, sue.joined), 15)
    assert sorted(outcomes) == [False, True]
    refused = sam if outcomes[1] else sue
    assert (await refused.client.next("error"))["code"] == "room_full"
    assert await refused.client.closed() == close_codes.ROOM_FULL
    seats = await client.get(f"/api/v1/sessions/{sid}/participants", headers=people.teacher)
    assert seats.json()["activeCount"] == 2  # the host and one student


async def test_the_waiting_room_over_rest(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    url = f"/api/v1/sessions/{sid}/waiting-room"
    assert (await client.get(url, headers=people.student)).status_code == 403
    bad_switch = await client.put(url, json={"enabled": 3}, headers=people.teacher)
    assert bad_switch.status_code == 422
    assert bad_switch.json()["error"]["code"]
    assert (await client.put(url, json={"enabled": True}, headers=people.teacher)).is_success
    # REST presence does not get round the waiting room.
    rest_join = await client.post(f"/api/v1/sessions/{sid}/join", headers=people.student)
    assert rest_join.status_code == 403
    assert rest_join.json()["error"]["code"] == "waiting_room"
    sam = await wait_in(a, await room_token(client, sid, people.student))
    sue = await wait_in(b, await room_token(client, sid, people.student2))
    state = (await client.get(url, headers=people.teacher)).json()
    assert state["enabled"] is True
    assert [w["name"] for w in state["waiting"]] == ["Sam Student", "Sue Second"]
    for body in ({}, {"id": "w_x", "all": True}, {"id": ""}, {"all": "yes"}):
        refused = await client.post(f"{url}/admit", json=body, headers=people.teacher)
        assert refused.status_code == 422, body
        assert refused.json()["error"]["code"]
    missing = await client.post(f"{url}/refuse", json={"id": "w_nobody"}, headers=people.teacher)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "waiter_not_found"
    student = await client.post(f"{url}/admit", json={"all": True}, headers=people.student)
    assert student.status_code == 403
    sam_id = state["waiting"][0]["id"]
    done = await client.post(f"{url}/refuse", json={"id": sam_id}, headers=people.teacher)
    assert done.json() == {"count": 1}
    assert await asyncio.wait_for(sam.joined, 15) is False
    # Off lets everyone waiting in.
    off = await client.put(url, json={"enabled": False}, headers=people.teacher)
    assert off.json()["enabled"] is False
    assert await asyncio.wait_for(sue.joined, 15) is True
    assert (await client.get(url, headers=people.teacher)).json() == {
        "enabled": False,
        "waiting": [],
    }


async def test_the_end_of_the_class_sends_the_waiting_home(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    await teacher.send({"type": "waiting-room", "enabled": True, "rid": "on"})
    await reply(teacher, "on")
    sam = await wait_in(b, await room_token(client, sid, people.student))
    await teacher.send({"type": "end", "rid": "end"})
    assert await asyncio.wait_for(sam.joined, 15) is False
    assert (await sam.client.next("room-ended"))["reason"]
    assert await sam.client.closed() == close_codes.NORMAL


async def test_a_draining_node_sends_its_waiters_elsewhere(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    await teacher.send({"type": "waiting-room", "enabled": True, "rid": "on"})
    await reply(teacher, "on")
    sam = await wait_in(b, await room_token(client, sid, people.student))
    await lists(teacher, ["Sam Student"])
    await b.drain()
    assert await asyncio.wait_for(sam.joined, 15) is False
    assert await sam.client.closed() == close_codes.GOING_AWAY
    await lists(teacher, [])
    # He reconnects (to the other node) and waits there.
    await wait_in(a, await room_token(client, sid, people.student))
    await lists(teacher, ["Sam Student"])
