"""The JSON error shape everywhere, the body size limit, and the operational endpoints
(health, readiness, metrics, the OpenAPI document and its docs page). Both backends."""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route, WebSocketRoute

from api import compat
from api.app import create_app
from api.endpoint import Api, Call
from api.settings import Settings
from tests.conftest import People

SESSIONS = "/api/v1/sessions"


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The ``error`` member, after checking the status, the content type and the shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) <= {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


# -- Framework errors: routing and parsing ----------------------------------------------------


async def test_unknown_route_is_404_not_found(client: httpx.AsyncClient) -> None:
    error = error_of(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert "/api/v1/nothing-here" in error["message"]
    error_of(await client.post("/nowhere", json={}), 404, "not_found")
    # "/" is the session list page (api/routes/web.py): other methods are 405, not 404.
    error_of(await client.post("/", json={}), 405, "method_not_allowed")


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient, people: People) -> None:
    response = await client.put(SESSIONS, json={}, headers=people.teacher)
    error = error_of(response, 405, "method_not_allowed")
    assert "PUT" in error["message"]
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed
    error_of(await client.delete("/healthz"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"title": "x"', b"\xff\xfe\x00", b"{'title': 'single quotes'}"]
)
async def test_invalid_json_is_400(client: httpx.AsyncClient, people: People, raw: bytes) -> None:
    headers = {**people.teacher, "Content-Type": "application/json"}
    response = await client.post(SESSIONS, content=raw, headers=headers)
    error_of(response, 400, "invalid_json")


async def test_a_missing_body_is_400(client: httpx.AsyncClient, people: People) -> None:
    error_of(await client.post(SESSIONS, headers=people.teacher), 400, "missing_body")


@pytest.mark.parametrize("value", [[1, 2], "a title", 42, None, True])
async def test_non_object_json_is_422(
    client: httpx.AsyncClient, people: People, value: object
) -> None:
    response = await client.post(SESSIONS, content=json.dumps(value), headers=people.teacher)
    error_of(response, 422, "validation_failed")


async def test_validation_errors_list_every_field(
    client: httpx.AsyncClient, people: People
) -> None:
    body = {"title": "", "maxParticipants": 501, "sessionType": "party", "unknown": 1}
    response = await client.post(SESSIONS, json=body, headers=people.teacher)
    error = error_of(response, 422, "validation_failed")
    details = error["details"]
    assert isinstance(details, list)
    for item in details:
        assert set(item) == {"field", "message", "type"}, item
        assert all(isinstance(v, str) and v for v in item.values()), item
    fields = {item["field"] for item in details}
    assert {"title", "maxParticipants", "sessionType", "unknown"} <= fields
    # Nothing of the input is echoed back.
    assert "party" not in response.text


async def test_query_validation_errors_have_the_same_shape(
    client: httpx.AsyncClient, people: People
) -> None:
    response = await client.get(SESSIONS, params={"limit": "many"}, headers=people.teacher)
    error = error_of(response, 422, "validation_failed")
    assert [d["field"] for d in error["details"]] == ["limit"]


async def test_nul_characters_are_refused_not_500(
    client: httpx.AsyncClient, people: People
) -> None:
    """PostgreSQL cannot store NUL in text; every way in is refused before it gets there."""
    body = {"title": "Al\x00gebra", "metadata": {"k": ["ok", "n\x00l"]}}
    error = error_of(
        await client.post(SESSIONS, json=body, headers=people.teacher), 422, "validation_failed"
    )
    assert {d["field"] for d in error["details"]} == {"title", "metadata.k.1"}
    query = {"instructorId": "t\x00"}
    error_of(
        await client.get(SESSIONS, params=query, headers=people.teacher), 422, "validation_failed"
    )
    error_of(await client.get(f"{SESSIONS}/a%00b", headers=people.teacher), 404, "not_found")
    # Nothing was created along the way.
    assert (await client.get(SESSIONS, headers=people.teacher)).json()["total"] == 0


# -- Domain errors ----------------------------------------------------------------------------


async def test_domain_errors_use_the_same_shape(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    error_of(
        await client.get(f"{SESSIONS}/no-such-room", headers=people.teacher),
        404,
        "session_not_found",
    )
    session = await new_session()
    forbidden = await client.post(f"{SESSIONS}/{session['id']}/start", headers=people.student)
    assert forbidden.status_code == 403, forbidden.text
    error_of(forbidden, 403, forbidden.json()["error"]["code"])
    error_of(await client.get(SESSIONS), 401, "missing_token")


# -- Body size limit --------------------------------------------------------------------------


@pytest.fixture
async def small_body_client(
    settings_factory: Callable[..., Settings],
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings_factory(max_body_bytes=1024))) as c:
        yield c


def _session_json(size: int) -> bytes:
    """A valid session body of exactly ``size`` bytes."""
    base = json.dumps({"title": "Sized", "description": ""}).encode()
    body = json.dumps({"title": "Sized", "description": "d" * (size - len(base))}).encode()
    assert len(body) == size
    return body


async def test_a_body_at_the_limit_is_accepted(
    small_body_client: httpx.AsyncClient, people: People
) -> None:
    response = await small_body_client.post(
        SESSIONS, content=_session_json(1024), headers=people.teacher
    )
    assert response.status_code == 201, response.text


async def test_a_declared_body_over_the_limit_is_413(
    small_body_client: httpx.AsyncClient, people: People
) -> None:
    response = await small_body_client.post(
        SESSIONS, content=_session_json(1025), headers=people.teacher
    )
    error = error_of(response, 413, "payload_too_large")
    assert error["details"] == {"limit": 1024}
    listed = await small_body_client.get(SESSIONS, headers=people.teacher)
    assert listed.json()["total"] == 0


async def test_a_chunked_body_over_the_limit_is_413(
    small_body_client: httpx.AsyncClient, people: People
) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "Streamed", "description": "'
        for _ in range(64):
            sent.append(100)
            yield b"x" * 100
        yield b'"}'

    response = await small_body_client.post(SESSIONS, content=chunks(), headers=people.teacher)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    error = error_of(response, 413, "payload_too_large")
    assert error["details"] == {"limit": 1024}
    # Refused as soon as the limit was passed, not after reading all 6.4 kB.
    assert len(sent) <= 11
    listed = await small_body_client.get(SESSIONS, headers=people.teacher)
    assert listed.json()["total"] == 0


async def test_a_small_chunked_body_is_accepted(
    small_body_client: httpx.AsyncClient, people: People
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": '
        yield b'"Streamed"}'

    response = await small_body_client.post(SESSIONS, content=chunks(), headers=people.teacher)
    assert response.status_code == 201, response.text


# -- Unexpected exceptions --------------------------------------------------------------------


class Boom(RuntimeError):
    pass


async def test_unexpected_exceptions_are_500_with_an_error_id(
    app: Starlette, client: httpx.AsyncClient, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    extra = Api("/api/v1")

    @extra.route("GET", "/explode", summary="Explode", tags=["test"])
    async def explode(call: Call) -> Any:
        raise Boom("db password is hunter2 at /srv/liveclass/secret.py line 42")

    app.router.routes.extend(extra.routes())
    with caplog.at_level(logging.ERROR, logger="liveclass.api"):
        response = await client.get("/api/v1/explode", headers=people.teacher)
    error = error_of(response, 500, "internal_error")
    error_id = error["details"]["errorId"]
    assert re.fullmatch(r"[0-9a-f]{16}", error_id)
    assert error_id in error["message"]
    for leak in ("hunter2", "Traceback", "Boom", "secret.py", 'File "'):
        assert leak not in response.text
    # The log has what the response hides, under the same id.
    records = [r for r in caplog.records if error_id in r.getMessage()]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], Boom)
    # Each failure gets its own id.
    again = await client.get("/api/v1/explode", headers=people.teacher)
    assert again.json()["error"]["details"]["errorId"] != error_id


# -- Health, readiness, metrics ---------------------------------------------------------------


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_checks_the_database_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A local port that refuses connections (bound, never listening)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_readyz_is_503_when_redis_is_unreachable(
    settings_factory: Callable[..., Settings], refused_port: int
) -> None:
    settings = settings_factory(redis_url=f"redis://127.0.0.1:{refused_port}/0")
    async with running(create_app(settings)) as c:
        response = await c.get("/readyz")
        assert response.status_code == 503, response.text
        body = response.json()
        assert body == {
            "status": "unavailable",
            "checks": {"database": "ok", "redis": "unavailable"},
        }
        assert (await c.get("/healthz")).status_code == 200


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    session = await new_session()
    for ref in (session["id"], session["roomName"]):
        assert (await client.get(f"{SESSIONS}/{ref}", headers=people.teacher)).status_code == 200
    await client.get(f"{SESSIONS}/missing-room", headers=people.teacher)
    await client.get("/no/such/route")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "liveclass_http_requests_total" in text
    assert "liveclass_http_request_duration_seconds_bucket" in text
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("liveclass_http_requests_total{")
    }
    ok = 'liveclass_http_requests_total{method="GET",route="/api/v1/sessions/{ref}",status="200"}'
    missing = ok.replace('status="200"', 'status="404"')
    assert samples[ok] == 2.0
    assert samples[missing] == 1.0
    assert (
        samples[
            'liveclass_http_requests_total{method="POST",route="/api/v1/sessions",status="201"}'
        ]
        == 1.0
    )
    assert (
        samples['liveclass_http_requests_total{method="GET",route="unmatched",status="404"}'] == 1.0
    )
    # Ids and room names never become label values.
    for raw in (session["id"], session["roomName"], "missing-room", "/no/such/route"):
        assert raw not in text


# -- The OpenAPI document and the docs page ---------------------------------------------------


def _api_routes(app: Starlette) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Route) and route.include_in_schema and route.methods:
            for method in route.methods - {"HEAD"}:
                found.add((method, route.path))
    return found


async def test_openapi_document_describes_every_route(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] == "liveclass"
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    routes = _api_routes(app)
    assert len(routes) >= 25
    assert documented == routes
    # The undocumented HTTP routes are the docs, the document itself, metrics, the
    # browser pages with the development sign-in (OpenAPI does not describe WebSocket routes).
    others = {
        r.path
        for r in app.routes
        if isinstance(r, Route | Mount) and not (isinstance(r, Route) and r.include_in_schema)
    }
    pages = {
        "/",
        "/index.html",
        "/classroom.html",
        "/analytics.html",
        "/classroom/{ref}",
        "/signin.html",
        "/static",
    }
    web = {"/web-config.json", "/dev/signin", "/dev/token", *pages}
    # ...and the seed APIs (api/compat), which their own documents describe.
    seeds = {r.path for r in compat.routes(app.state.settings) if isinstance(r, Route)}
    assert "/live-classes/{liveClassId}/join" in seeds
    assert others == {
        "/openapi.json",
        "/docs",
        "/docs/init.js",
        "/docs/static",
        "/metrics",
        *web,
        *seeds,
    }
    assert all(isinstance(r, Route | Mount | WebSocketRoute) for r in app.routes)

    schemas = doc["components"]["schemas"]
    assert {"ErrorResponse", "SessionOut", "SessionDraft"} <= set(schemas)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    # Every reference resolves inside the document.
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc))
    assert refs
    assert set(refs) <= set(schemas)
    # Path parameters are declared for every templated path.
    for path, ops in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for op in ops.values():
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == names, (path, op["operationId"])
            assert op["responses"], op["operationId"]


async def test_docs_page_and_its_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/docs/static/swagger-ui-bundle.js" in page.text
    bundle = await client.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["content-type"]
    assert len(bundle.content) > 100_000
    css = await client.get("/docs/static/swagger-ui.css")
    assert css.status_code == 200
    init = await client.get("/docs/init.js")
    assert init.status_code == 200
    assert "/openapi.json" in init.text
    error_of(await client.get("/docs/static/nope.js"), 404, "not_found")
