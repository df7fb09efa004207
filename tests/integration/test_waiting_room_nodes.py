"""The waiting room over real sockets (issue 17): two ``liveclass serve`` processes on one
real Redis and one real PostgreSQL; students wait on one node, the teacher on the other lets
one in, one leaves while waiting (the server notices the socket going), one is refused."""

from __future__ import annotations

from typing import Any

import httpx

from signaling.client import RoomClient
from tests.cluster.clients import live_session, room_token
from tests.conftest import bearer
from tests.integration.cluster import Node

TEACHER = bearer("teacher-1", "instructor", name="Tina Teacher")


async def lists(host: RoomClient, names: list[str]) -> dict[str, Any]:
    """The host's waiting lists, taken in order, until one names ``names`` (a stale list
    never passes for the current one)."""
    while True:
        message = await host.next("waiting-list")
        if [w["name"] for w in message["waiting"]] == names:
            return message


async def test_the_waiting_room_across_two_nodes(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    async with httpx.AsyncClient(timeout=30) as http:
        sid = await live_session(http, a.http, TEACHER, 2)
        teacher = RoomClient(a.ws, await room_token(http, a.http, sid, TEACHER), name="teacher")
        students = [
            RoomClient(
                b.ws,
                await room_token(http, a.http, sid, bearer(f"s{i}", name=f"Student {i}")),
                name=f"s{i}",
            )
            for i in range(3)
        ]
    try:
        await teacher.join()
        answer = await teacher.request({"type": "waiting-room", "enabled": True})
        assert answer == {"type": "ack", "rid": answer["rid"], "enabled": True}
        for n, student in enumerate(students):
            await student.open()
            waiting = await student.next("waiting")
            assert waiting["room"]["title"] == "Cross-node class"
            await lists(teacher, [f"Student {i}" for i in range(n + 1)])
        assert teacher.count == 1  # nobody waiting is counted

        # Student 1 goes away while waiting: node B notices the socket and the list says so.
        await students[1].close()
        listing = await lists(teacher, ["Student 0", "Student 2"])
        s0, s2 = (w["id"] for w in listing["waiting"])
        assert (await teacher.request({"type": "waiting-admit", "id": s0}))["count"] == 1
        welcome = await students[0].welcome()
        assert welcome["participant"]["name"] == "Student 0"
        await teacher.until(lambda c: c.count == 2)
        assert (await teacher.request({"type": "waiting-refuse", "id": s2}))["count"] == 1
        assert (await students[2].next("waiting-refused"))["reason"]
        assert await students[2].closed() == 4003
        await lists(teacher, [])
    finally:
        for client in (teacher, *students):
            await client.close()
