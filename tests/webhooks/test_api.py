"""The webhook configuration API: tenant admins only, tenant-isolated, secrets shown once,
bad input is a JSON 4xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.helpers import error_of
from tests.conftest import People
from tests.webhooks.conftest import ADMIN

BASE = "/api/v1/webhooks/endpoints"


async def test_endpoint_crud_shows_the_secret_only_on_create_and_rotate(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        BASE,
        json={"url": "https://hooks.example.com/lc", "eventTypes": ["session.started"]},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["secretHint"] == endpoint["secret"][-4:]
    assert endpoint["eventTypes"] == ["session.started"]
    assert endpoint["enabled"] is True
    eid = endpoint["id"]

    listed = (await client.get(BASE, headers=ADMIN)).json()["endpoints"]
    assert [e["id"] for e in listed] == [eid]
    assert "secret" not in listed[0]
    fetched = (await client.get(f"{BASE}/{eid}", headers=ADMIN)).json()
    assert "secret" not in fetched

    patched = await client.patch(
        f"{BASE}/{eid}", json={"enabled": False, "eventTypes": []}, headers=ADMIN
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False
    assert patched.json()["eventTypes"] == []
    assert patched.json()["url"] == "https://hooks.example.com/lc"

    rotated = await client.post(f"{BASE}/{eid}/rotate-secret", headers=ADMIN)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != endpoint["secret"]

    assert (await client.delete(f"{BASE}/{eid}", headers=ADMIN)).status_code == 204
    gone = await client.get(f"{BASE}/{eid}", headers=ADMIN)
    assert gone.status_code == 404
    assert error_of(gone)["code"] == "webhook_endpoint_not_found"


async def test_only_tenant_admins_see_and_manage_their_tenants_webhooks(
    client: httpx.AsyncClient, people: People
) -> None:
    eid = (await client.post(BASE, json={"url": "http://127.0.0.1:9/x"}, headers=ADMIN)).json()[
        "id"
    ]
    for who in (people.teacher, people.student):
        refused = await client.get(BASE, headers=who)
        assert refused.status_code == 403
        assert error_of(refused)["code"] == "admin_only"
        assert (await client.get("/api/v1/webhooks/deliveries", headers=who)).status_code == 403
    # Another tenant's admin: nothing there, and the endpoint does not exist for them.
    assert (await client.get(BASE, headers=people.outsider_admin)).json()["endpoints"] == []
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, f"{BASE}/{eid}", headers=people.outsider_admin, json={}
        )
        assert response.status_code == 404, (method, response.text)
    assert (await client.get("/api/v1/webhooks/endpoints/nope", headers=ADMIN)).status_code == 404
    assert (await client.post(BASE, json={"url": "http://x"})).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/hook"},
        {"url": "javascript:alert(1)"},
        {"url": "file:///etc/passwd"},
        {"url": "http://"},
        {"url": "https://user:pw@example.com/hook"},
        {"url": "http://example.com:99999/"},
        {"url": "http://exa mple.com/"},
        {"url": "https://example.com/" + "a" * 2100},
        {"url": "https://example.com/", "eventTypes": ["session.exploded"]},
        {"url": "https://example.com/", "unknown": 1},
        {"url": "https://example.com/", "enabled": "maybe"},
        {},
    ],
)
async def test_bad_endpoint_input_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post(BASE, json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_failed"


async def test_bad_json_and_bad_queries_are_4xx(client: httpx.AsyncClient) -> None:
    bad = await client.post(BASE, content=b"{nope", headers=ADMIN)
    assert bad.status_code == 400
    query = await client.get("/api/v1/webhooks/deliveries?status=lost", headers=ADMIN)
    assert query.status_code == 422
    missing = await client.get("/api/v1/webhooks/deliveries/not-an-id", headers=ADMIN)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "webhook_delivery_not_found"


async def test_event_types_are_listed(client: httpx.AsyncClient, people: People) -> None:
    response = await client.get("/api/v1/webhooks/event-types", headers=people.student)
    assert set(response.json()["eventTypes"]) == {
        "session.started",
        "session.ended",
        "session.cancelled",
        "session.updated",
        "session.reminder",
        "participant.joined",
        "participant.left",
        "enrollment.created",
        "waitlist.promoted",
        "recording.started",
        "recording.ready",
        "recording.failed",
    }
