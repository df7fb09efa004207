"""A chat message reaches the room once admitted and is acknowledged once stored and durable
(``rooms/chat.py``, ``rooms/store/durability.py``): the room waits for neither the database's
commit nor its flush, the sender's ``ack`` (REST: the 201) waits for both, and a message the
store cannot keep is answered with an error that says the room saw it. Runs on
fakeredis+SQLite and Redis+PostgreSQL; the commit or the flush is held back, or failed, by a
stand-in for the chat's group commit that wraps the real one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from api.services import Services
from rooms.store.durability import Durability
from rooms.store.group_commit import GroupCommit
from tests.conftest import People
from tests.signaling.conftest import Three
from tests.signaling.harness import WAIT, Client, fast_chat

pytestmark = fast_chat


class _Held:
    def __init__(self, writes: HeldWrites, inner: Durability) -> None:
        self._writes = writes
        self._inner = inner

    async def durable(self) -> None:
        await self._writes.hold()
        await self._inner.durable()


class HeldWrites:
    """The chat's group commit, real, but held at ``stage`` (``"commit"``: before the row
    is written; ``"flush"``: after, before it is durable) until :attr:`released` is set;
    then ``error``, if given, is raised instead."""

    def __init__(self, inner: GroupCommit, stage: str) -> None:
        self._inner = inner
        self.stage = stage
        self.waiting = asyncio.Event()
        self.released = asyncio.Event()
        self.error: Exception | None = None

    async def hold(self) -> None:
        self.waiting.set()
        await self.released.wait()
        if self.error is not None:
            raise self.error

    async def add(self, row: Any, **kwargs: Any) -> Durability:
        if self.stage == "commit":
            await self.hold()
            return await self._inner.add(row, **kwargs)
        return _Held(self, await self._inner.add(row, **kwargs))


Class = tuple[Client, Client, Client, HeldWrites]


async def unreachable(*_: Any, **__: Any) -> None:
    raise ConnectionError("the room's bus went away")


def hold(services: Services, stage: str) -> HeldWrites:
    """Chat's writes (both nodes': one deployment) held at ``stage``."""
    held = HeldWrites(services.chat._writes, stage)
    services.chat._writes = held  # type: ignore[assignment]
    return held


@pytest.fixture(params=["commit", "flush"])
def held_class(request: pytest.FixtureRequest, live_class: Three, services: Services) -> Class:
    """The live class, chat's commit or flush held."""
    return (*live_class, hold(services, request.param))


async def test_the_room_gets_a_message_before_it_is_stored_and_the_sender_its_ack_after(
    held_class: Class,
) -> None:
    teacher, s1, s2, held = held_class
    # The harness hands a frame to the hub and returns once it is handled: here, after the flush.
    sending = asyncio.create_task(
        s1.send({"type": "chat", "text": "before the flush", "rid": "r1"})
    )
    for c in (teacher, s2):
        assert (await c.next("chat"))["text"] == "before the flush"
    async with asyncio.timeout(WAIT):
        await held.waiting.wait()
    assert (await s1.next("chat"))["text"] == "before the flush"
    assert not [m for m in s1.drain_now() if m["type"] in ("ack", "error")]
    held.released.set()
    await sending
    ack = await s1.next("ack")
    assert (ack["rid"], ack["seq"]) == ("r1", 1)


async def test_a_message_not_stored_is_answered_with_what_the_room_saw(
    held_class: Class,
) -> None:
    teacher, s1, s2, held = held_class
    held.error = OperationalError("SELECT 1", None, ConnectionError("the database went away"))
    held.released.set()
    await s1.send({"type": "chat", "text": "seen, not confirmed", "rid": "r1"})
    error = await s1.next("error")
    assert (error["rid"], error["code"]) == ("r1", "unavailable")
    assert "reached the room" in error["message"]
    for c in (teacher, s2):
        chat = await c.next("chat")
        assert chat["text"] == "seen, not confirmed"
        assert error["details"] == {"delivered": True, "id": chat["id"], "seq": chat["seq"]}
    assert not [m for m in s1.drain_now() if m["type"] == "ack"]
    # The next message, durable again, is acknowledged as ever.
    held.error = None
    await s1.send({"type": "chat", "text": "and saved", "rid": "r2"})
    assert (await s1.next("ack"))["rid"] == "r2"


async def test_over_rest_too(held_class: Class, client: httpx.AsyncClient, people: People) -> None:
    teacher, *_, held = held_class
    held.error = OperationalError("SELECT 1", None, ConnectionError("the database went away"))
    held.released.set()
    sid = teacher.welcome["room"]["id"]
    response = await client.post(
        f"/api/v1/sessions/{sid}/messages", json={"text": "over REST"}, headers=people.student
    )
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    chat = await teacher.next("chat")
    assert chat["text"] == "over REST"
    assert error["details"] == {"delivered": True, "id": chat["id"], "seq": chat["seq"]}


async def test_a_rest_message_that_cannot_reach_the_room_is_not_stored(
    live_class: Three,
    client: httpx.AsyncClient,
    people: People,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    teacher, *_ = live_class

    # Whichever way this deployment delivers: the log's write and publication (in process),
    # or the admission's one script that logs and publishes (Redis).
    monkeypatch.setattr(services.parts.room_log, "publish", unreachable)
    if services.parts.chat_admission is not None:
        monkeypatch.setattr(services.parts.chat_admission, "admit_and_append", unreachable)
    sid = teacher.welcome["room"]["id"]
    path = f"/api/v1/sessions/{sid}/messages"
    response = await client.post(path, json={"text": "lost"}, headers=people.student)
    assert response.status_code == 503, response.text
    assert "delivered" not in (response.json()["error"].get("details") or {})
    monkeypatch.undo()
    assert (await client.get(path, headers=people.teacher)).json()["messages"] == []
    sent = await client.post(path, json={"text": "again"}, headers=people.student)
    assert sent.status_code == 201, sent.text
    assert (await teacher.next("chat"))["text"] == "again"


async def test_while_the_database_is_failing_a_message_is_stored_before_the_room_sees_it(
    live_class: Three, services: Services
) -> None:
    """The first message of an outage nobody noticed yet reaches the room unstored; from then
    on (until the database answers again) chat is stored first, so what it cannot keep is
    refused and seen by nobody: the README's behaviour during outages."""
    teacher, s1, s2 = live_class
    held = hold(services, "commit")
    held.error = OperationalError("SELECT 1", None, ConnectionError("the database went away"))
    held.released.set()
    await s1.send({"type": "chat", "text": "as it went down", "rid": "r1"})
    assert (await s1.next("error"))["details"]["delivered"] is True
    for c in (teacher, s2):
        assert (await c.next("chat"))["text"] == "as it went down"
    await s1.send({"type": "chat", "text": "during", "rid": "r2"})
    refused = await s1.next("error")
    assert (refused["rid"], refused["code"]) == ("r2", "unavailable")
    assert "details" not in refused
    assert not [m for m in teacher.drain_now() + s2.drain_now() if m["type"] == "chat"]
    # Back: the next message waits for its store (held), unseen meanwhile...
    held.error = None
    held.released.clear()
    held.waiting.clear()
    sending = asyncio.create_task(s1.send({"type": "chat", "text": "back", "rid": "r3"}))
    async with asyncio.timeout(WAIT):
        await held.waiting.wait()
    assert not [m for m in teacher.drain_now() if m["type"] == "chat"]
    held.released.set()
    await sending
    assert (await s1.next("ack"))["rid"] == "r3"
    assert (await teacher.next("chat"))["text"] == "back"
    # ...and once stored, the database is well again: the room no longer waits for it.
    held.released.clear()
    sending = asyncio.create_task(s1.send({"type": "chat", "text": "as ever", "rid": "r4"}))
    assert (await teacher.next("chat"))["text"] == "as ever"
    held.released.set()
    await sending
    assert (await s1.next("ack"))["rid"] == "r4"


async def test_a_websocket_message_the_bus_could_not_take_is_stored_and_acknowledged(
    live_class: Three,
    client: httpx.AsyncClient,
    people: People,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unlike REST's, a WebSocket message the room could not be sent (a bus apart from the
    log's Redis, which went away) is kept: every node catches up from the store."""
    teacher, s1, _ = live_class

    monkeypatch.setattr(services.parts.room_log, "scripted", lambda *_: None)
    monkeypatch.setattr(services.parts.room_log, "publish", unreachable)
    await s1.send({"type": "chat", "text": "kept", "rid": "r1"})
    assert (await s1.next("ack"))["rid"] == "r1"
    path = f"/api/v1/sessions/{teacher.welcome['room']['id']}/messages"
    history = (await client.get(path, headers=people.teacher)).json()["messages"]
    assert [m["text"] for m in history] == ["kept"]
