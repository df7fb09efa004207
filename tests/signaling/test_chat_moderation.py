"""Chat moderation over WebSocket and REST (issue 17): a deleted message is gone for everyone
(pushed to connected clients, out of the history and out of resume replay); the host turns
student chat off and on. Two nodes, both backends."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from api.services import Services
from api.settings import Settings
from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.signaling.harness import connect, reply
from tests.signaling.test_hub import join, room_token


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(chat_rate_per_second=1000, chat_burst=1000)


async def test_a_deleted_message_is_gone_for_everyone(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    s1 = await join(client, b, sid, people.student)
    s2 = await join(client, a, sid, people.student2)
    s2_seq = s2.welcome["seq"]  # type: ignore[attr-defined]
    await s1.send({"type": "chat", "text": "something rude", "rid": "c"})
    rude = await reply(s1, "c")
    await s1.send({"type": "chat", "text": "sorry", "rid": "c2"})
    kept = await reply(s1, "c2")
    await s2.until(lambda m: m["type"] == "chat" and m["seq"] == kept["seq"])
    await s2.drop()  # s2's network goes away: it will resume

    await s1.send({"type": "chat-delete", "id": rude["id"], "rid": "no"})
    assert (await reply(s1, "no"))["code"] == "forbidden"
    await teacher.send({"type": "chat-delete", "id": rude["id"], "rid": "d"})
    assert (await reply(teacher, "d"))["type"] == "ack"
    for c in (teacher, s1):
        gone = await c.next("chat-deleted")
        assert gone["id"] == rude["id"]
        assert gone["deletedSeq"] == rude["seq"]
    history = await client.get(f"/api/v1/sessions/{sid}/messages", headers=people.student)
    assert [m["text"] for m in history.json()["messages"]] == ["sorry"]
    await teacher.send({"type": "chat-delete", "id": rude["id"], "rid": "again"})
    assert (await reply(teacher, "again"))["code"] == "message_not_found"

    # A client resuming from before the rude message gets the rest replayed, not it.
    token = await room_token(client, sid, people.student2)
    resumed, admitted = await connect(
        b,
        token,
        resume=s2.welcome["resume"],  # type: ignore[attr-defined]
        last_seq=s2_seq,
    )
    assert admitted
    assert (await resumed.next("welcome"))["resumed"] is True
    deleted = await resumed.next("chat-deleted")
    replayed = [m for m in resumed.drain_now() if m["type"] == "chat"]
    assert rude["id"] not in [m["id"] for m in replayed]
    assert deleted["id"] == rude["id"]

    # Over REST too: the room hears of it.
    await s1.send({"type": "chat", "text": "again", "rid": "c3"})
    third = await reply(s1, "c3")
    response = await client.delete(
        f"/api/v1/sessions/{sid}/messages/{third['id']}", headers=people.teacher
    )
    assert response.status_code == 204
    assert await teacher.until(lambda m: m["type"] == "chat-deleted" and m["id"] == third["id"])


async def test_the_host_turns_student_chat_off_and_on(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    student = await join(client, b, sid, people.student)
    settings_url = f"/api/v1/sessions/{sid}/chat/settings"
    assert (await client.get(settings_url, headers=people.student)).json() == {"studentChat": True}

    await student.send({"type": "chat-mode", "studentChat": False, "rid": "s"})
    assert (await reply(student, "s"))["code"] == "forbidden"
    await teacher.send({"type": "chat-mode", "studentChat": False, "rid": "off"})
    assert (await reply(teacher, "off"))["type"] == "ack"
    for c in (teacher, student):
        mode = await c.next("chat-mode")
        assert mode["studentChat"] is False
        assert mode["by"]["name"] == "Tina Teacher"
    await student.send({"type": "chat", "text": "hello?", "rid": "c"})
    refused = await reply(student, "c")
    assert refused["code"] == "chat_off"
    assert "turned chat off" in refused["message"]
    response = await client.post(
        f"/api/v1/sessions/{sid}/messages", json={"text": "hello?"}, headers=people.student
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "chat_off"
    assert (await client.get(settings_url, headers=people.student)).json() == {"studentChat": False}
    # The teacher still talks.
    await teacher.send({"type": "chat", "text": "quiet please", "rid": "t"})
    assert (await reply(teacher, "t"))["type"] == "ack"

    put = await client.put(settings_url, json={"studentChat": True}, headers=people.student)
    assert put.status_code == 403
    put = await client.put(settings_url, json={"studentChat": True}, headers=people.teacher)
    assert put.json() == {"studentChat": True}
    assert (await student.until(lambda m: m["type"] == "chat-mode"))["studentChat"] is True
    await student.send({"type": "chat", "text": "thanks", "rid": "c2"})
    assert (await reply(student, "c2"))["type"] == "ack"


async def test_a_tombstone_never_lands_below_the_log(services: Services) -> None:
    """Deleting a message the log already trimmed leaves the log alone."""
    from rooms.room_log import RoomLog

    log = RoomLog(services.redis, capacity=2)
    for seq in (1, 2, 3):
        await log.append("s-trim", seq, {"type": "chat", "seq": seq})
    assert await log.oldest("s-trim") == 2
    await log.replace("s-trim", 1, {"type": "chat-deleted", "seq": 1})
    assert await log.oldest("s-trim") == 2
    await log.replace("s-trim", 2, {"type": "chat-deleted", "seq": 2})
    assert [m["type"] for m in await log.since("s-trim", 0)] == ["chat-deleted", "chat"]
