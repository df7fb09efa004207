"""REST: POST /sessions/{ref}/recording/start and /stop, on both backends: who may, in which
states, the JSON errors, the listing, the webhooks and the room's ``recording`` messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.services import Services
from media.worker import MediaWorker
from rooms.media_registry import MediaRegistry
from rooms.store.tables import WebhookEventRow
from signaling.hub import Hub
from tests.conftest import FakeClock, People
from tests.media.hub_peers import join
from tests.waiting import eventually


def start_path(sid: str) -> str:
    return f"/api/v1/sessions/{sid}/recording/start"


def stop_path(sid: str) -> str:
    return f"/api/v1/sessions/{sid}/recording/stop"


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def recording_of(client: httpx.AsyncClient, rid: str, who: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"/api/v1/recordings/{rid}", headers=who)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_only_the_host_records_a_live_session(
    client: httpx.AsyncClient, people: People, new_session: Any
) -> None:
    scheduled = (await new_session())["id"]
    response = await client.post(start_path(scheduled), headers=people.teacher)
    assert response.status_code == 409
    assert error_code(response) == "room_not_live"

    sid = (await new_session(start=True))["id"]
    for who, status, code in [
        (people.student, 403, "not_session_owner"),
        (people.other_teacher, 403, "not_session_owner"),
        (people.outsider_admin, 404, "session_not_found"),
    ]:
        for path in (start_path(sid), stop_path(sid)):
            response = await client.post(path, headers=who)
            assert (response.status_code, error_code(response)) == (status, code), path
    response = await client.post(start_path(sid))
    assert response.status_code == 401

    response = await client.post(stop_path(sid), headers=people.teacher)
    assert response.status_code == 409
    assert error_code(response) == "not_recording"


async def test_without_a_live_media_worker_recording_is_unavailable(
    client: httpx.AsyncClient, people: People, new_session: Any
) -> None:
    sid = (await new_session(start=True))["id"]
    response = await client.post(start_path(sid), headers=people.teacher)
    assert response.status_code == 503
    assert error_code(response) == "sfu_unavailable"
    listed = await client.get(f"/api/v1/sessions/{sid}/recordings", headers=people.teacher)
    assert listed.json()["recordings"] == []


async def test_start_stop_lifecycle_with_webhooks_and_room_messages(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    services: Services,
    start_worker: Callable[..., Awaitable[MediaWorker]],
    start_hub: Callable[[str], Awaitable[Hub]],
) -> None:
    endpoint = await client.post(
        "/api/v1/webhooks/endpoints",
        json={
            "url": "https://hooks.example.com/lc",
            "eventTypes": ["recording.started", "recording.failed", "recording.ready"],
        },
        headers=people.admin,
    )
    assert endpoint.status_code == 201, endpoint.text
    worker = await start_worker("worker-rec-api")
    hub = await start_hub("node-rec-api")
    sid = (await new_session(start=True))["id"]
    student = await join(client, hub, sid, people.student)

    started = await client.post(start_path(sid), headers=people.admin)  # admins may too
    assert started.status_code == 201, started.text
    recording = started.json()
    assert recording["status"] == "recording"
    assert recording["source"] == "server"
    assert recording["contentType"] == "video/webm"
    assert recording["startedAt"] is not None
    assert recording["accessLink"]["expiresAt"] is not None
    message = await student.until(lambda m: m.get("type") == "recording", 30)
    assert message["status"] == "started"
    assert message["recordingId"] == recording["id"]
    assert isinstance(message["seq"], int)

    again = await client.post(start_path(sid), headers=people.teacher)
    assert again.status_code == 409
    assert error_code(again) == "recording_in_progress"
    assert again.json()["error"]["details"]["recordingId"] == recording["id"]

    # the worker got the command and records the room (nobody publishes yet)
    desk = worker.recordings
    assert desk is not None
    await eventually(lambda: desk.recorder_of(sid) is not None, 30)

    stopped = await client.post(stop_path(sid), headers=people.teacher)
    assert stopped.status_code == 202, stopped.text
    assert stopped.json()["status"] in ("processing", "failed")
    # nothing was published: the recording fails instead of producing an empty file (the
    # room is told once the failed row is committed)
    message = await student.until(
        lambda m: m.get("type") == "recording" and m["status"] == "failed", 30
    )
    assert message["reason"] == "nothing was published while recording"
    failed = await recording_of(client, recording["id"], people.teacher)
    assert failed["status"] == "failed"
    assert failed["stoppedAt"] is not None
    again = await client.post(stop_path(sid), headers=people.teacher)
    assert error_code(again) == "not_recording"

    listed = await client.get(f"/api/v1/sessions/{sid}/recordings", headers=people.student)
    assert [r["id"] for r in listed.json()["recordings"]] == [recording["id"]]

    async with services.database.transaction() as tx:
        types = list(
            (
                await tx.execute(select(WebhookEventRow.type).order_by(WebhookEventRow.created_at))
            ).scalars()
        )
    assert [t for t in types if t.startswith("recording.")] == [
        "recording.started",
        "recording.failed",
    ]

    # a new recording may start once the last one is settled
    restarted = await client.post(start_path(sid), headers=people.teacher)
    assert restarted.status_code == 201, restarted.text


@pytest.mark.parametrize("backend", ["services"], indirect=True)
async def test_recordings_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/api/v1/sessions/{ref}/recording/start", "/api/v1/sessions/{ref}/recording/stop"):
        operation = paths[path]["post"]
        assert {"403", "404", "409"} <= set(operation["responses"])


async def test_a_lost_command_can_be_stopped_again_and_the_sweeper_settles_it(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    services: Services,
    clock: FakeClock,
) -> None:
    # a worker that heartbeats but never hears its commands (pub/sub lost them)
    registry = MediaRegistry(services.redis, ttl_seconds=10, clock=clock)
    await registry.heartbeat("worker-deaf")
    sid = (await new_session(start=True))["id"]
    started = await client.post(start_path(sid), headers=people.teacher)
    assert started.status_code == 201, started.text
    rid = started.json()["id"]
    for _ in range(2):  # the second stop sends the command again
        stopped = await client.post(stop_path(sid), headers=people.teacher)
        assert stopped.status_code == 202, stopped.text
        assert stopped.json()["status"] == "processing"
    assert await services.server_recordings.sweep() == []  # its worker is alive

    clock.advance(11)  # ...and then it is not
    assert [row.id for row in await services.server_recordings.sweep()] == [rid]
    assert await services.server_recordings.sweep() == []  # settled once
    body = await recording_of(client, rid, people.teacher)
    assert body["status"] == "failed"
    assert body["stoppedAt"] is not None
    stopped = await client.post(stop_path(sid), headers=people.teacher)
    assert error_code(stopped) == "not_recording"
