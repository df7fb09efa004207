"""One class, six APIs: a class created through any one of them is read, joined and ended
through every other (``/api/v1`` and the five seed APIs share one domain).

The teacher is one user (``teacher-1``) whose tokens carry each seed's role name; students
are ordinary members of the tenant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.compat.tokens import seed_bearer

TEACHER = {
    "v1": seed_bearer("teacher-1", "instructor", name="Tina Teacher"),
    "daily": seed_bearer("teacher-1", "instructor", name="Tina Teacher"),
    "hms": seed_bearer("teacher-1", "expert", name="Tina Teacher"),
    "bookings": seed_bearer("teacher-1", "expert", name="Tina Teacher"),
    "live_classes": seed_bearer("teacher-1", "training_manager", name="Tina Teacher"),
}
STUDENT = seed_bearer("student-1", "student", name="Sam Student")
SOON = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")

Client = httpx.AsyncClient


async def _ok(response: Awaitable[httpx.Response], status: int = 200) -> dict[str, Any]:
    answer = await response
    assert answer.status_code == status, f"{answer.request.url}: {answer.text}"
    body: Any = answer.json()
    return body if isinstance(body, dict) else {"items": body}


# -- creating: each API's own create; returns the session id ------------------------------


async def create_v1(c: Client) -> str:
    body = await _ok(c.post("/api/v1/sessions", json={"title": "X"}, headers=TEACHER["v1"]), 201)
    return str(body["id"])


async def create_daily(c: Client) -> str:
    body = {"title": "X", "description": "Daily"}
    return str((await _ok(c.post("/sessions", json=body, headers=TEACHER["daily"]), 201))["_id"])


async def create_hms(c: Client) -> str:
    body = {"title": "X", "scheduledStartTime": SOON, "sessionType": "group"}
    made = await _ok(c.post("/api/live/sessions", json=body, headers=TEACHER["hms"]), 201)
    return str(made["data"]["session"]["id"])


async def create_bookings(c: Client) -> str:
    made = await _ok(
        c.post("/api/live-sessions", json={"title": "X"}, headers=TEACHER["bookings"]), 201
    )
    return str(made["data"]["id"])


async def create_live_classes(c: Client) -> str:
    body = {"tenantId": "acme", "title": "X", "scheduledAt": SOON, "maxParticipants": 150}
    made = await _ok(c.post("/live-classes", json=body, headers=TEACHER["live_classes"]), 201)
    return str(made["id"])


CREATORS: dict[str, Callable[[Client], Awaitable[str]]] = {
    "v1": create_v1,
    "daily": create_daily,
    "hms": create_hms,
    "bookings": create_bookings,
    "live_classes": create_live_classes,
}

# -- reading: each API's read of one class, as (path, the id and status in its answer) ----


async def read_everywhere(c: Client, sid: str, status: str) -> None:
    v1 = await _ok(c.get(f"/api/v1/sessions/{sid}", headers=STUDENT))
    assert (v1["id"], v1["status"]) == (sid, status)
    daily = await _ok(c.get(f"/sessions/{sid}", headers=STUDENT))
    assert daily["_id"] == sid
    hms = await _ok(c.get(f"/api/live/sessions/{sid}", headers=STUDENT))
    assert (hms["data"]["session"]["id"], hms["data"]["session"]["status"]) == (sid, status)
    bookings = await _ok(c.get(f"/api/live-sessions/{sid}", headers=STUDENT))
    assert bookings["data"]["id"] == sid
    assert bookings["data"]["status"] == {"live": "active"}.get(status, status)
    live = await _ok(c.get(f"/live-classes/{sid}", headers=STUDENT))
    assert (live["id"], live["status"]) == (sid, status)
    listed = await _ok(c.get("/live-classes", headers=STUDENT))
    assert sid in [x["id"] for x in listed["liveClasses"]]
    chat = await _ok(c.get(f"/sessions/{sid}/messages", headers=STUDENT))
    assert isinstance(chat["items"], list)


# -- joining: every way in -----------------------------------------------------------------


async def join_everywhere(c: Client, sid: str) -> None:
    await _ok(c.post(f"/api/v1/sessions/{sid}/token", headers=STUDENT))
    await _ok(c.post(f"/sessions/{sid}/token", json={"userName": "Sam"}, headers=STUDENT))
    await _ok(c.post(f"/api/live/sessions/{sid}/enroll", headers=STUDENT))
    token = await _ok(c.post(f"/api/live/sessions/{sid}/join-token", headers=STUDENT))
    assert token["data"]["role"] == "guest"
    await _ok(c.post(f"/api/live-sessions/{sid}/join", headers=STUDENT))  # books (duplicate-safe)
    joined = await _ok(c.post(f"/live-classes/{sid}/join", headers=STUDENT))
    v1_join = await _ok(c.post(f"/api/v1/sessions/{sid}/join", headers=STUDENT))
    assert v1_join["id"] == joined["id"]  # one seat, whichever API took it
    await _ok(c.post(f"/sessions/{sid}/messages", json={"text": "hi"}, headers=STUDENT), 201)
    seen = await _ok(c.get(f"/live-classes/{sid}/participants", headers=TEACHER["v1"]))
    assert [p["userId"] for p in seen["participants"]] == ["student-1"]
    v1_chat = await _ok(c.get(f"/api/v1/sessions/{sid}/messages", headers=STUDENT))
    assert [m["text"] for m in v1_chat["messages"]] == ["hi"]


# -- ending: each API's own end ------------------------------------------------------------


async def end_v1(c: Client, sid: str) -> None:
    await _ok(c.post(f"/api/v1/sessions/{sid}/end", headers=TEACHER["v1"]))


async def end_daily(c: Client, sid: str) -> None:
    """The Daily app ends a class through its scheduled session (or by deleting the room)."""
    slot = await _ok(
        c.post("/scheduled-sessions", json={"startsAt": SOON}, headers=TEACHER["daily"]), 201
    )
    path = f"/scheduled-sessions/{slot['_id']}"
    linked = await _ok(c.put(path, json={"sessionId": sid}, headers=TEACHER["daily"]))
    assert linked["status"] == "live"
    await _ok(c.patch(f"{path}/status", json={"status": "finished"}, headers=TEACHER["daily"]))


async def end_hms(c: Client, sid: str) -> None:
    await _ok(c.post(f"/api/live/sessions/{sid}/end", headers=TEACHER["hms"]))


async def end_bookings(c: Client, sid: str) -> None:
    await _ok(c.patch(f"/api/live-sessions/{sid}/end", headers=TEACHER["bookings"]))


async def end_live_classes(c: Client, sid: str) -> None:
    await _ok(c.post(f"/live-classes/{sid}/end", headers=TEACHER["live_classes"]))


ENDERS: dict[str, Callable[[Client, str], Awaitable[None]]] = {
    "v1": end_v1,
    "daily": end_daily,
    "hms": end_hms,
    "bookings": end_bookings,
    "live_classes": end_live_classes,
}

PAIRS = [(made, ended) for made in CREATORS for ended in ENDERS if made != ended]


@pytest.mark.parametrize(("creator", "ender"), PAIRS)
async def test_a_class_created_through_one_api_lives_through_every_other(
    client: httpx.AsyncClient, creator: str, ender: str
) -> None:
    sid = await CREATORS[creator](client)
    status = (await _ok(client.get(f"/api/v1/sessions/{sid}", headers=STUDENT)))["status"]
    if status == "scheduled":
        await _ok(client.post(f"/live-classes/{sid}/start", headers=TEACHER["live_classes"]))
    await read_everywhere(client, sid, "live")
    await join_everywhere(client, sid)
    await ENDERS[ender](client, sid)
    await read_everywhere(client, sid, "ended")
    gone = await _ok(client.get(f"/live-classes/{sid}/participants", headers=STUDENT))
    assert gone["activeCount"] == 0
