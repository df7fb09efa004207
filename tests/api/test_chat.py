"""Session chat over REST: posting (validation, live-only, who may) and cursor-paged history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.services import Services
from api.settings import Settings
from tests.api.helpers import error_of, own_client
from tests.conftest import FakeClock, NewSession, People

API = "/api/v1"


def messages_url(sid: str) -> str:
    return f"{API}/sessions/{sid}/messages"


async def say(client: httpx.AsyncClient, sid: str, who: dict[str, str], text: str) -> int:
    response = await client.post(messages_url(sid), json={"text": text}, headers=who)
    assert response.status_code == 201, response.text
    seq: int = response.json()["seq"]
    return seq


async def page(
    client: httpx.AsyncClient, sid: str, who: dict[str, str], **params: int
) -> dict[str, Any]:
    response = await client.get(messages_url(sid), params=params, headers=who)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def seqs(body: dict[str, Any]) -> list[int]:
    messages = body["messages"]
    assert isinstance(messages, list)
    return [m["seq"] for m in messages]


# -- posting ---------------------------------------------------------------------------------


async def test_posting_stores_and_numbers_messages(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    before = datetime.now(UTC)

    first = await client.post(
        messages_url(sid), json={"text": "  Hello, class!\n"}, headers=people.teacher
    )
    second = await client.post(messages_url(sid), json={"text": "Hi"}, headers=people.student)
    third = await client.post(messages_url(sid), json={"text": "Yo"}, headers=people.student2)

    assert [r.status_code for r in (first, second, third)] == [201, 201, 201], first.text
    body = first.json()
    assert body["id"]
    assert body["seq"] == 1
    assert body["sessionId"] == sid
    assert body["text"] == "Hello, class!"
    assert body["from"] == {"id": "teacher-1", "name": "Tina Teacher", "role": "host"}
    sent_at = datetime.fromisoformat(body["ts"].replace("Z", "+00:00"))
    assert abs((sent_at - before).total_seconds()) < 60
    assert second.json()["seq"] == 2
    assert second.json()["from"] == {"id": "student-1", "name": "Sam Student", "role": "guest"}
    assert third.json()["seq"] == 3
    assert len({r.json()["id"] for r in (first, second, third)}) == 3

    history = await page(client, sid, people.student)
    assert [m["text"] for m in history["messages"]] == ["Hello, class!", "Hi", "Yo"]
    assert history["messages"][0] == body


async def test_sequence_numbers_are_per_session(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    one = await new_session(start=True, title="One")
    two = await new_session(start=True, title="Two")

    assert await say(client, one["id"], people.student, "a") == 1
    assert await say(client, one["id"], people.student, "b") == 2
    assert await say(client, two["id"], people.student, "c") == 1
    assert await say(client, one["id"], people.student, "d") == 3


async def test_an_admin_observer_may_not_post_as_over_websocket(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    """One chat rule for REST and WebSocket (issue 15, lifecycle 7): hidden observers do not
    chat (over WebSocket: tests/signaling/test_participant.py); they still read the history."""
    session = await new_session(start=True)

    response = await client.post(
        messages_url(session["id"]), json={"text": "Checking in"}, headers=people.admin
    )

    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "observer_cannot_chat"
    history = await client.get(messages_url(session["id"]), headers=people.admin)
    assert history.status_code == 200


async def test_chat_is_open_only_while_live(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session()
    sid = session["id"]

    scheduled = await client.post(messages_url(sid), json={"text": "early"}, headers=people.teacher)
    assert scheduled.status_code == 409, scheduled.text
    assert error_of(scheduled)["code"] == "room_not_live"
    assert error_of(scheduled)["details"] == {"status": "scheduled"}

    await client.post(f"{API}/sessions/{sid}/start", headers=people.teacher)
    assert await say(client, sid, people.student, "now") == 1
    await client.post(f"{API}/sessions/{sid}/end", headers=people.teacher)

    ended = await client.post(messages_url(sid), json={"text": "late"}, headers=people.student)
    assert ended.status_code == 409, ended.text
    assert error_of(ended)["code"] == "room_not_live"
    assert error_of(ended)["details"] == {"status": "ended"}
    assert seqs(await page(client, sid, people.teacher)) == [1]


@pytest.mark.parametrize("text", ["   ", "\n\t  \n"])
async def test_blank_text_is_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession, text: str
) -> None:
    session = await new_session(start=True)

    response = await client.post(
        messages_url(session["id"]), json={"text": text}, headers=people.student
    )

    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "empty_message"
    assert (await page(client, session["id"], people.teacher))["messages"] == []


async def test_empty_or_missing_text_is_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)

    for body in ({"text": ""}, {}, {"text": 5}, {"text": "hi", "extra": 1}):
        response = await client.post(messages_url(session["id"]), json=body, headers=people.student)
        assert response.status_code == 422, (body, response.text)
        assert error_of(response)["code"] in {"validation_failed", "empty_message"}
    assert (await page(client, session["id"], people.teacher))["messages"] == []


async def test_text_longer_than_the_limit_is_refused(
    settings_factory: Callable[..., Settings], clock: FakeClock, people: People
) -> None:
    async with own_client(settings_factory(chat_max_chars=10), clock) as client:
        created = await client.post(
            f"{API}/sessions", json={"title": "Short chat"}, headers=people.teacher
        )
        sid = created.json()["id"]
        await client.post(f"{API}/sessions/{sid}/start", headers=people.teacher)

        too_long = await client.post(
            messages_url(sid), json={"text": "x" * 11}, headers=people.student
        )
        assert too_long.status_code == 422, too_long.text
        error = error_of(too_long)
        assert error["code"] == "message_too_long"
        assert error["details"] == {"maxChars": 10}

        # The limit applies to the trimmed text: exactly ten characters pass.
        fits = await client.post(
            messages_url(sid), json={"text": "  0123456789  "}, headers=people.student
        )
        assert fits.status_code == 201, fits.text
        assert fits.json()["text"] == "0123456789"
        assert fits.json()["seq"] == 1


async def test_a_gated_session_chat_is_for_the_enrolled(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True, requiresEnrollment=True)
    sid = session["id"]

    posted = await client.post(messages_url(sid), json={"text": "hi"}, headers=people.student)
    assert posted.status_code == 403, posted.text
    assert error_of(posted)["code"] == "not_enrolled"
    read = await client.get(messages_url(sid), headers=people.student)
    assert read.status_code == 403
    assert error_of(read)["code"] == "not_enrolled"

    await client.post(f"{API}/sessions/{sid}/enroll", headers=people.student)
    assert await say(client, sid, people.student, "hi") == 1
    assert seqs(await page(client, sid, people.student)) == [1]


async def test_another_tenant_does_not_see_the_chat(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    await say(client, sid, people.student, "private")

    for who in (people.outsider, people.outsider_admin):
        posted = await client.post(messages_url(sid), json={"text": "hey"}, headers=who)
        assert posted.status_code == 404, posted.text
        assert error_of(posted)["code"] == "session_not_found"
        read = await client.get(messages_url(sid), headers=who)
        assert read.status_code == 404
    assert seqs(await page(client, sid, people.teacher)) == [1]


async def test_a_body_that_is_not_json_is_a_bad_request(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)

    response = await client.post(
        messages_url(session["id"]),
        content=b'{"text": "unterminated',
        headers={**people.student, "Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "invalid_json"
    assert (await page(client, session["id"], people.teacher))["messages"] == []


# -- history ---------------------------------------------------------------------------------


async def test_history_pages_by_cursor(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    for n in range(1, 8):
        assert await say(client, sid, people.student, f"message {n}") == n

    latest = await page(client, sid, people.student, limit=3)
    assert seqs(latest) == [5, 6, 7]
    assert [m["text"] for m in latest["messages"]] == ["message 5", "message 6", "message 7"]
    assert latest["hasMore"] is True
    assert latest["prevCursor"] == 5
    assert latest["nextCursor"] == 7

    older = await page(client, sid, people.student, limit=3, before=latest["prevCursor"])
    assert seqs(older) == [2, 3, 4]
    assert older["hasMore"] is True
    assert older["prevCursor"] == 2

    oldest = await page(client, sid, people.student, limit=3, before=older["prevCursor"])
    assert seqs(oldest) == [1]
    assert oldest["hasMore"] is False
    assert oldest["prevCursor"] == 1

    newer = await page(client, sid, people.student, limit=3, after=3)
    assert seqs(newer) == [4, 5, 6]
    assert newer["hasMore"] is True
    assert newer["nextCursor"] == 6

    rest = await page(client, sid, people.student, limit=3, after=newer["nextCursor"])
    assert seqs(rest) == [7]
    assert rest["hasMore"] is False
    assert rest["nextCursor"] == 7

    caught_up = await page(client, sid, people.student, limit=3, after=7)
    assert caught_up["messages"] == []
    assert caught_up["hasMore"] is False
    assert caught_up["nextCursor"] == 7  # keep polling from the same place
    assert caught_up["prevCursor"] is None

    everything = await page(client, sid, people.student)
    assert seqs(everything) == [1, 2, 3, 4, 5, 6, 7]
    assert everything["hasMore"] is False


async def test_an_empty_history(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session()

    body = await page(client, session["id"], people.student)

    assert body == {"messages": [], "hasMore": False, "nextCursor": None, "prevCursor": None}


async def test_after_and_before_together_are_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)

    response = await client.get(
        messages_url(session["id"]), params={"after": 1, "before": 5}, headers=people.student
    )

    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_failed"


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"after": -1}, {"before": "x"}])
async def test_bad_paging_parameters_are_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession, params: dict[str, str | int]
) -> None:
    session = await new_session(start=True)

    response = await client.get(messages_url(session["id"]), params=params, headers=people.student)

    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_failed"


async def test_history_stays_readable_after_the_session_ended(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    await say(client, sid, people.teacher, "welcome")
    await say(client, sid, people.student, "thanks")
    await client.post(f"{API}/sessions/{sid}/end", headers=people.teacher)

    for who in (people.student, people.student2, people.teacher, people.admin):
        body = await page(client, sid, who)
        assert [m["text"] for m in body["messages"]] == ["welcome", "thanks"]


async def test_sequence_survives_redis_losing_its_counter(
    client: httpx.AsyncClient, people: People, new_session: NewSession, services: Services
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    for n in range(1, 4):
        assert await say(client, sid, people.student, f"before {n}") == n
    local = services.parts.local
    if local is not None:
        # The embedded default keeps it in process: lost when the process restarts.
        assert local.seq[sid] == 3
        local.seq.clear()
    else:
        key = services.presence.keys(sid).seq
        assert await services.redis.exists(key) == 1
        await services.redis.delete(key)

    assert await say(client, sid, people.student, "after 1") == 4
    assert await say(client, sid, people.teacher, "after 2") == 5
    body = await page(client, sid, people.teacher)
    assert seqs(body) == [1, 2, 3, 4, 5]
    assert [m["text"] for m in body["messages"]][-2:] == ["after 1", "after 2"]


async def test_a_started_sessions_first_message_asks_the_store_for_no_floor(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Starting a session begins its counter: the first message's number needs no read of
    the store (a query and a round trip on the first message of every class)."""
    session = await new_session(start=True)

    async def no_floor(session_id: str) -> int:
        raise AssertionError(f"the store was asked for {session_id}'s floor")

    monkeypatch.setattr(services.chat, "_floor", no_floor)
    assert await say(client, session["id"], people.student, "first") == 1
    assert await say(client, session["id"], people.teacher, "second") == 2
