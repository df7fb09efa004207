"""One chat rate limit per user and session, whichever way the messages come: REST and
WebSocket on two nodes draw on the same bucket in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from api.settings import Settings
from signaling import close_codes
from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.signaling.harness import join

BURST = 5


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    # A bucket that does not refill during the test: exactly BURST messages get through.
    return settings_factory(chat_rate_per_second=0.01, chat_burst=BURST)


def url(sid: str) -> str:
    return f"/api/v1/sessions/{sid}/messages"


async def test_concurrent_rest_posts_are_limited_with_retry_after(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    sid = (await new_session(start=True))["id"]
    answers = await asyncio.gather(
        *(client.post(url(sid), json={"text": f"m{i}"}, headers=people.student) for i in range(40))
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * BURST + [429] * (40 - BURST)
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["details"]["retryAfter"] > 0
    history = await client.get(url(sid), headers=people.teacher)
    assert len(history.json()["messages"]) == BURST
    # Another user has a bucket of their own.
    other = await client.post(url(sid), json={"text": "hi"}, headers=people.student2)
    assert other.status_code == 201


async def test_rest_and_websocket_chat_share_one_limit_across_nodes(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    student = await join(client, a, sid, people.student)
    for i in range(BURST - 2):
        posted = await client.post(url(sid), json={"text": f"rest {i}"}, headers=people.student)
        assert posted.status_code == 201
    # Two tokens left: the WebSocket on node a takes them, then is refused.
    for rid in ("w1", "w2", "w3"):
        await student.send({"type": "chat", "text": rid, "rid": rid})
    answers = [
        await student.until(lambda m, r=rid: m.get("rid") == r)  # type: ignore[misc]
        for rid in ("w1", "w2", "w3")
    ]
    assert [m["type"] for m in answers] == ["ack", "ack", "error"]
    assert answers[2]["code"] == "rate_limited"
    # The same user, now on node b: the same empty bucket.
    await student.send({"type": "leave"})
    assert await student.closed() == close_codes.NORMAL
    again = await join(client, b, sid, people.student)
    await again.send({"type": "chat", "text": "b", "rid": "b1"})
    assert (await again.until(lambda m: m.get("rid") == "b1"))["code"] == "rate_limited"
    refused = await client.post(url(sid), json={"text": "rest"}, headers=people.student)
    assert refused.status_code == 429
