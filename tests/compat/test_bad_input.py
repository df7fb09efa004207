"""Bad input of any kind to any seed API is a 4xx in that seed's error shape, never a 500:
every route of every adapter, with malformed ids (NUL characters, which PostgreSQL refuses),
malformed JSON, wrong types and NUL characters in bodies and query strings."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from api import compat
from tests.compat.tokens import seed_bearer

TEACHER = seed_bearer("t-1", "instructor")
BODIES: list[Any] = [
    "not json",
    "[1, 2]",
    {"title": "bad\u0000title", "text": "\u0000", "paymentId": "p\u0000"},
    {
        "title": 5,
        "startsAt": "yesterday",
        "scheduledAt": ["x"],
        "status": 7,
        "sessionId": "\u0000",
        "tenantId": 9,
        "recordingUrl": 5,
        "maxParticipants": "many",
        "date": "2025-13-45",
        "price": -1,
    },
]
QUERY = "?limit=abc&page=-1&skip=x&status=zzz&offset=-5&after=z&instructorId=%00&tenant=%00"


def _routes(app: Starlette) -> list[tuple[str, str]]:
    found = []
    for route in compat.routes(app.state.settings):
        assert isinstance(route, Route)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, route.path))
    return found


@pytest.mark.parametrize("backend", ["services"], indirect=True)
async def test_no_seed_route_answers_5xx_to_bad_input(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    created = await client.post("/api/v1/sessions", json={"title": "Real"}, headers=TEACHER)
    real = created.json()["id"]
    routes = _routes(app)
    assert len(routes) >= 40
    checked = 0
    for method, template in routes:
        for ident in ("bad%00id", real, "no-such-room"):
            path = re.sub(r"{\w+}", ident, template)
            for headers in (TEACHER, {}):
                for body in BODIES:
                    kwargs: dict[str, Any] = {"headers": headers}
                    if method in ("POST", "PUT", "PATCH"):
                        if isinstance(body, str):
                            kwargs["content"] = body
                            kwargs["headers"] = {**headers, "Content-Type": "application/json"}
                        else:
                            kwargs["json"] = body
                    response = await client.request(method, path + QUERY, **kwargs)
                    checked += 1
                    assert response.status_code < 500, (method, path, body, response.text)
    assert checked > 500
