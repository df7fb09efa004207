"""A chat message reaches the room once committed and is acknowledged once durable
(``rooms/store/durability.py``): the room never waits for the database's flush, the sender's
``ack`` always does, and a message that cannot be confirmed durable is answered with an error
that says the room saw it. Runs on fakeredis+SQLite and Redis+PostgreSQL; the flush is held
back, or failed, by a stand-in for the chat's group commit that wraps the real one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from api.services import Services
from rooms.store.durability import Durability
from rooms.store.group_commit import GroupCommit
from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.signaling.harness import WAIT, Client, class_of_three, fast_chat

pytestmark = fast_chat


class _Held:
    def __init__(self, flush: HeldFlush, inner: Durability) -> None:
        self._flush = flush
        self._inner = inner

    async def durable(self) -> None:
        self._flush.waiting.set()
        await self._flush.released.wait()
        if self._flush.error is not None:
            raise self._flush.error
        await self._inner.durable()


class HeldFlush:
    """The chat's group commit, its commits real, their durability held until
    :attr:`released` is set (then ``error``, if given, is raised instead)."""

    def __init__(self, inner: GroupCommit) -> None:
        self._inner = inner
        self.waiting = asyncio.Event()
        self.released = asyncio.Event()
        self.error: Exception | None = None

    async def add(self, row: Any, **kwargs: Any) -> Durability:
        return _Held(self, await self._inner.add(row, **kwargs))


Class = tuple[Client, Client, Client, HeldFlush]


@pytest.fixture
async def held_class(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    nodes: tuple[Hub, Hub],
    services: Services,
) -> Class:
    """A live class of three on two nodes (the teacher, two students), chat's flush held."""
    sid = (await new_session(start=True))["id"]
    teacher, s1, s2 = await class_of_three(client, nodes, sid, people)
    chat = services.chat  # both nodes' (one deployment)
    held = HeldFlush(chat._writes)
    chat._writes = held  # type: ignore[assignment]
    return teacher, s1, s2, held


async def test_the_room_gets_a_message_before_its_flush_and_the_sender_its_ack_after(
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


async def test_a_message_not_confirmed_durable_is_answered_with_what_the_room_saw(
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
