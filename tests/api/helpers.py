"""Small helpers shared by the API tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import select

from api.app import create_app
from api.settings import Settings
from rooms.store import Database
from rooms.store.tables import WebhookEventRow
from tests.conftest import FakeClock


def error_of(response: httpx.Response) -> dict[str, object]:
    """The ``error`` member of a JSON error response (checked for shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, object] = body["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


@asynccontextmanager
async def own_client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app of its own settings (as conftest's ``app`` and ``client``)."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


#: Request bodies no JSON endpoint may answer with 5xx: each is 400 ``invalid_json``.
PARSER_BOMBS: dict[str, bytes] = {
    "brackets x 100,000": b"[" * 100_000,
    "objects 100 deep": b'{"k":' * 100 + b"1" + b"}" * 100,
    "a 5,000-digit integer": b'{"title": 1' + b"0" * 5000 + b"}",
    "a 5,000-digit fraction": b'{"title": 0.' + b"1" * 5000 + b"}",
    "NaN": b'{"title": NaN}',
    "a float overflowing to infinity": b'{"title": 1e999}',
    "invalid UTF-8": b'{"title": "\xff\xfe"}',
}


async def subscribe(client: httpx.AsyncClient, admin: dict[str, str], *event_types: str) -> None:
    """A webhook endpoint of the admin's tenant for ``event_types`` (events are recorded only
    for tenants with a subscribed endpoint)."""
    response = await client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": "https://platform.example/hooks", "eventTypes": list(event_types)},
        headers=admin,
    )
    assert response.status_code == 201, response.text


async def recorded_events(database: Database, event_type: str) -> list[dict[str, Any]]:
    """The ``data`` of every recorded event of ``event_type``, oldest first."""
    async with database.transaction() as tx:
        bodies = (
            await tx.execute(
                select(WebhookEventRow.body)
                .where(WebhookEventRow.type == event_type)
                .order_by(WebhookEventRow.created_at)
            )
        ).scalars()
        return [json.loads(body)["data"] for body in bodies]
