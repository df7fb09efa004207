"""Seed 003 (the Jitsi tutoring app), conformance: chat history and posting, recording upload
and listing, as the document specifies them, on a class of the one domain."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_recordings import webm
from tests.compat.seed_docs import assert_shape, section
from tests.compat.tokens import seed_bearer

DOC = "003_tutoring"
TUTOR = seed_bearer("tutor-1", "tutor", name="Tia Tutor")
STUDENT = seed_bearer("student-1", "student", name="John Doe")
OUTSIDER = seed_bearer("student-9", "student", tenant="globex")


async def live_class(client: httpx.AsyncClient) -> str:
    created = await client.post("/api/v1/sessions", json={"title": "Tutoring"}, headers=TUTOR)
    sid: str = created.json()["id"]
    started = await client.post(f"/api/v1/sessions/{sid}/start", headers=TUTOR)
    assert started.status_code == 200, started.text
    return sid


def documented_message() -> dict[str, Any]:
    message: dict[str, Any] = section(DOC, "1. Session Messages").examples()[0][0]
    return message


async def test_messages_history_and_posting(client: httpx.AsyncClient) -> None:
    sid = await live_class(client)
    assert (await client.get(f"/sessions/{sid}/messages", headers=STUDENT)).json() == []
    text = documented_message()["text"]
    posted = await client.post(f"/sessions/{sid}/messages", json={"text": text}, headers=STUDENT)
    assert posted.status_code == 201, posted.text
    assert_shape(documented_message(), posted.json())
    assert (posted.json()["from"], posted.json()["text"]) == ("John Doe", "Hello!")
    await client.post(f"/sessions/{sid}/messages", json={"text": "Hi John"}, headers=TUTOR)

    history = await client.get(f"/sessions/{sid}/messages", headers=TUTOR)
    assert history.status_code == 200
    assert_shape([documented_message()], history.json())
    assert [m["text"] for m in history.json()] == ["Hello!", "Hi John"]
    # the same chat as /api/v1 (and the room's WebSocket chat)
    v1 = await client.get(f"/api/v1/sessions/{sid}/messages", headers=STUDENT)
    assert [m["id"] for m in v1.json()["messages"]] == [m["id"] for m in history.json()]
    after = await client.get(
        f"/sessions/{sid}/messages?after={history.json()[0]['seq']}", headers=STUDENT
    )
    assert [m["text"] for m in after.json()] == ["Hi John"]

    assert (await client.get(f"/sessions/{sid}/messages")).status_code == 401
    hidden = await client.get(f"/sessions/{sid}/messages", headers=OUTSIDER)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "session_not_found"
    empty = await client.post(f"/sessions/{sid}/messages", json={}, headers=STUDENT)
    assert empty.status_code == 400


async def test_recording_upload_and_listing(client: httpx.AsyncClient) -> None:
    sid = await live_class(client)
    files = {"file": ("lesson.webm", webm(), "video/webm")}
    forbidden = await client.post(f"/sessions/{sid}/recordings", files=files, headers=STUDENT)
    assert forbidden.status_code == 403
    uploaded = await client.post(f"/sessions/{sid}/recordings", files=files, headers=TUTOR)
    assert uploaded.status_code == 201, uploaded.text
    # the document's response: {"id": "uuid", "url": "https://..."}
    assert_shape({"id": "uuid", "url": "https://..."}, uploaded.json())
    download = await client.get(uploaded.json()["url"], headers=STUDENT)
    assert download.status_code == 200
    assert download.content == webm()

    listed = await client.get(f"/sessions/{sid}/recordings", headers=STUDENT)
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [uploaded.json()["id"]]
    row = listed.json()[0]
    assert (row["uploaded_by"], row["file_size_bytes"]) == ("tutor-1", len(webm()))
    not_a_form = await client.post(f"/sessions/{sid}/recordings", json={"file": "x"}, headers=TUTOR)
    assert not_a_form.status_code == 415
