"""A node delivers its own chat to its part of the room as soon as the message is published,
without waiting for the bus to bring it back (``RoomDelivery.here``); the echo is then a
repeat, dropped by the room's order (``signaling/ordering.py``). Runs on fakeredis+SQLite and
Redis+PostgreSQL, two nodes: the teacher and student2 on the first, student on the second."""

from __future__ import annotations

import httpx
import pytest

from rooms.bus_events import BusEvent, RoomMessage
from signaling.hub import Hub
from tests.conftest import People
from tests.signaling.conftest import Three
from tests.signaling.harness import Client, fast_chat

pytestmark = fast_chat


def chats(client: Client) -> list[str]:
    return [m["text"] for m in client.drain_now() if m["type"] == "chat"]


async def test_the_senders_node_delivers_without_the_bus_echo(
    live_class: Three, nodes: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher, s1, s2 = live_class
    listener = nodes[0]._listener
    from_bus = listener.on_event

    def deaf_to_chat(event: BusEvent) -> None:
        if not (isinstance(event, RoomMessage) and event.message.get("type") == "chat"):
            from_bus(event)

    # The first node no longer hears chat from the bus: what its people get came from here.
    monkeypatch.setattr(listener, "on_event", deaf_to_chat)
    await s2.send({"type": "chat", "text": "from the first node", "rid": "r1"})
    assert (await s2.next("ack"))["rid"] == "r1"
    for c in (teacher, s2, s1):
        assert (await c.next("chat"))["text"] == "from the first node"


async def test_everyone_gets_each_message_once_from_either_node(live_class: Three) -> None:
    """Each node's people get every message once, in order: a repeat of one from their own
    node (its echo) would come before the next message from the other node, published after
    it, on the same channel."""
    teacher, s1, s2 = live_class
    sent = []
    for i in range(3):
        for sender, name in ((s2, "a"), (s1, "b")):
            await sender.send({"type": "chat", "text": f"{name}{i}", "rid": f"{name}{i}"})
            assert (await sender.next("ack"))["rid"] == f"{name}{i}"
            sent.append(f"{name}{i}")
    for c in (teacher, s1, s2):
        assert [(await c.next("chat"))["text"] for _ in sent] == sent
    assert chats(teacher) == chats(s2) == []  # b2, from the other node, came after a2's echo


async def test_a_message_names_its_sender_as_the_room_knows_them(
    live_class: Three, client: httpx.AsyncClient, people: People
) -> None:
    """By participant id over WebSocket, by user id over REST (no participant)."""
    teacher, _, s2 = live_class
    await s2.send({"type": "chat", "text": "by socket", "rid": "r1"})
    sender = (await teacher.next("chat"))["from"]
    assert sender["id"] == s2.conn.participant_id
    assert (sender["userId"], sender["role"]) == ("student-2", "guest")
    path = f"/api/v1/sessions/{teacher.welcome['room']['id']}/messages"
    posted = await client.post(path, json={"text": "by REST"}, headers=people.student2)
    assert posted.status_code == 201, posted.text
    sender = (await teacher.next("chat"))["from"]
    assert (sender["id"], sender["userId"]) == ("student-2", "student-2")
