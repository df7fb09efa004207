"""Webhook delivery end to end in one process: the app's dispatcher POSTs to a real receiver
on a loopback port, signed, retried with backoff, logged; on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from api.services import Services
from tests.conftest import People
from tests.signaling.harness import Client, connect
from tests.webhooks.conftest import ADMIN, add_endpoint, settled
from tests.webhooks.receiver import Receiver

NewSession = Callable[..., Any]


async def _whole_class(client: httpx.AsyncClient, people: People, new_session: NewSession) -> str:
    """Every event type the REST API can cause, once: returns the session id."""
    session = await new_session(roomName="webhooks-1", maxParticipants=5)
    sid = session["id"]
    assert (await client.post(f"/api/v1/sessions/{sid}/enroll", headers=people.student)).is_success
    assert (await client.post(f"/api/v1/sessions/{sid}/start", headers=people.teacher)).is_success
    assert (await client.post(f"/api/v1/sessions/{sid}/join", headers=people.student)).is_success
    assert (await client.post(f"/api/v1/sessions/{sid}/leave", headers=people.student)).is_success
    assert (await client.post(f"/api/v1/sessions/{sid}/join", headers=people.student2)).is_success
    link = await client.post(
        f"/api/v1/sessions/{sid}/recordings",
        json={"recordingUrl": "https://cdn.example.com/rec.mp4"},
        headers=people.teacher,
    )
    assert link.status_code == 201, link.text
    # Ending the session closes student2's attendance: participant.left for them too.
    assert (await client.post(f"/api/v1/sessions/{sid}/end", headers=people.teacher)).is_success
    other = await new_session(roomName="webhooks-2")
    cancel = await client.post(f"/api/v1/sessions/{other['id']}/cancel", headers=people.teacher)
    assert cancel.is_success
    return str(sid)


EXPECTED = sorted(
    [
        "enrollment.created",
        "session.started",
        "participant.joined",
        "participant.left",
        "participant.joined",
        "recording.ready",
        "participant.left",
        "session.ended",
        "session.cancelled",
    ]
)


async def test_every_event_arrives_once_signed_with_its_data(
    client: httpx.AsyncClient, people: People, new_session: NewSession, receiver: Receiver
) -> None:
    await add_endpoint(client, receiver)
    sid = await _whole_class(client, people, new_session)
    await receiver.wait_for(lambda r: len(r.delivered) == len(EXPECTED))

    accepted = receiver.accepted()
    assert sorted(r.event_type for r in accepted) == EXPECTED
    assert all(r.signature_ok for r in receiver.receipts)
    assert set(receiver.delivered.values()) == {1}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in accepted:
        assert r.payload["id"] == r.event_id
        assert r.payload["type"] == r.event_type
        assert r.payload["tenant"] == "acme"
        assert r.payload["createdAt"].endswith("Z")
        by_type.setdefault(r.event_type, []).append(r.payload["data"])
    started = by_type["session.started"][0]["session"]
    assert started["id"] == sid
    assert started["status"] == "live"
    assert started["roomName"] == "webhooks-1"
    assert by_type["session.ended"][0]["session"]["status"] == "ended"
    assert by_type["session.cancelled"][0]["session"]["status"] == "cancelled"
    enrollment = by_type["enrollment.created"][0]
    assert enrollment["sessionId"] == sid
    assert enrollment["enrollment"]["userId"] == "student-1"
    assert "userEmail" not in enrollment["enrollment"]
    joined = sorted(d["participant"]["userId"] for d in by_type["participant.joined"])
    left = sorted(d["participant"]["userId"] for d in by_type["participant.left"])
    assert joined == left == ["student-1", "student-2"]
    recording = by_type["recording.ready"][0]["recording"]
    assert recording["status"] == "ready"
    assert recording["externalUrl"] == "https://cdn.example.com/rec.mp4"


async def test_a_failing_receiver_gets_each_event_once_after_retries_and_the_log_shows_it(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    receiver: Receiver,
    services: Services,
) -> None:
    receiver.fail_first = 2
    endpoint = await add_endpoint(client, receiver, eventTypes=["session.started"])
    await new_session(start=True)
    await receiver.wait_for(lambda r: len(r.delivered) == 1)
    assert [(r.attempt, r.answered) for r in receiver.receipts] == [(1, 500), (2, 500), (3, 200)]
    assert len({r.event_id for r in receiver.receipts}) == 1
    assert all(r.signature_ok for r in receiver.receipts)
    await settled(services, 3)

    log = await client.get(
        "/api/v1/webhooks/deliveries", params={"endpointId": endpoint["id"]}, headers=ADMIN
    )
    assert log.status_code == 200, log.text
    [delivery] = log.json()["deliveries"]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 3
    assert delivery["eventType"] == "session.started"
    detail = (
        await client.get(f"/api/v1/webhooks/deliveries/{delivery['id']}", headers=ADMIN)
    ).json()
    assert [(a["attempt"], a["statusCode"]) for a in detail["attemptLog"]] == [
        (1, 500),
        (2, 500),
        (3, 200),
    ]
    assert detail["attemptLog"][0]["responseExcerpt"] == "nope"
    assert detail["payload"]["id"] == delivery["eventId"] == receiver.receipts[0].event_id


async def test_deliveries_die_after_max_attempts_and_can_be_redelivered(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    receiver: Receiver,
    services: Services,
) -> None:
    receiver.failing = True
    await add_endpoint(client, receiver, eventTypes=["session.started"])
    await new_session(start=True)
    # FAST_RETRIES allows 4 attempts.
    await settled(services, 4)
    assert len(receiver.receipts) == 4
    response = await client.get(
        "/api/v1/webhooks/deliveries", params={"status": "dead"}, headers=ADMIN
    )
    [delivery] = response.json()["deliveries"]
    assert delivery["attempts"] == 4
    assert delivery["lastStatusCode"] == 500

    receiver.failing = False
    again = await client.post(
        f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=ADMIN
    )
    assert again.status_code == 202, again.text
    await receiver.wait_for(lambda r: len(r.delivered) == 1)
    assert receiver.accepted()[0].event_id == delivery["eventId"]


async def test_filters_and_disabled_endpoints(
    client: httpx.AsyncClient, people: People, new_session: NewSession, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(client, receiver, eventTypes=["session.cancelled"])
    session = await new_session()
    assert (
        await client.post(f"/api/v1/sessions/{session['id']}/enroll", headers=people.student)
    ).is_success
    await client.post(f"/api/v1/sessions/{session['id']}/cancel", headers=people.teacher)
    await receiver.wait_for(lambda r: len(r.delivered) == 1)
    assert [r.event_type for r in receiver.receipts] == ["session.cancelled"]

    # Disabled: events are kept and sent when it is enabled again.
    await client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}",
        json={"enabled": False, "eventTypes": ["session.started"]},
        headers=ADMIN,
    )
    await client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}", json={"enabled": True}, headers=ADMIN
    )
    await new_session(start=True)
    await receiver.wait_for(lambda r: len(r.delivered) == 2)
    assert [r.event_type for r in receiver.accepted()] == ["session.cancelled", "session.started"]


async def test_metrics_count_deliveries_and_show_the_outbox(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    receiver: Receiver,
    services: Services,
) -> None:
    receiver.fail_first = 1
    await add_endpoint(client, receiver, eventTypes=["session.started"])
    await new_session(start=True)
    await settled(services, 2)
    samples = await _samples(client)
    assert samples[_key("liveclass_webhook_deliveries_total", "delivered")] == 1.0
    assert samples[_key("liveclass_webhook_deliveries_total", "retry")] == 1.0
    assert samples[("liveclass_webhook_outbox_pending", ())] == 0.0
    assert samples[("liveclass_rooms_live", ())] == 1.0
    assert samples[("liveclass_webhook_delivery_duration_seconds_count", ())] == 2.0
    assert ("liveclass_media_workers_alive", ()) in samples


def _key(name: str, outcome: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, (("event_type", "session.started"), ("outcome", outcome)))


async def _samples(
    client: httpx.AsyncClient,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = (await client.get("/metrics")).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_websocket_joins_leaves_and_a_host_ending_the_class_are_events(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    receiver: Receiver,
    services: Services,
) -> None:
    await add_endpoint(client, receiver)
    sid = (await new_session(start=True))["id"]
    await receiver.wait_for(lambda r: len(r.delivered) == 1)  # session.started

    async def ws_join(who: dict[str, str]) -> Client:
        token = (await client.post(f"/api/v1/sessions/{sid}/token", headers=who)).json()["token"]
        joined, admitted = await connect(services.hub, token)
        assert admitted
        await joined.next("welcome")
        return joined

    host = await ws_join(people.teacher)
    student = await ws_join(people.student)
    await student.send({"type": "leave"})
    await host.send({"type": "end", "rid": "e1"})
    await receiver.wait_for(lambda r: len(r.delivered) == 6)
    # Deliveries run concurrently: they may arrive in any order.
    events = [(r.event_type, r.payload["data"]) for r in receiver.accepted()]
    assert sorted(t for t, _ in events) == sorted(
        [
            "session.started",
            "participant.joined",
            "participant.joined",
            "participant.left",
            "participant.left",
            "session.ended",
        ]
    )
    joined = sorted(d["participant"]["userId"] for t, d in events if t == "participant.joined")
    left = sorted(d["participant"]["userId"] for t, d in events if t == "participant.left")
    assert joined == left == ["student-1", "teacher-1"]
    assert {d["participant"]["source"] for t, d in events if t.startswith("participant.")} == {"ws"}
    assert set(receiver.delivered.values()) == {1}
