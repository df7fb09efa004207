"""Hostile input at the REST edge: text that cannot be stored, parser bombs, rows stored
before the edge checked them, clients that go away mid-body.

Every JSON body goes through one parser (``api.endpoint.parse_body`` on
``rooms.untrusted.parse_json``), so each bomb is sent to every operation with a JSON body.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Message

from api.app import API_MODULES
from api.services import Services
from rooms.identity import Principal, UserRole
from rooms.inputs import SessionDraft
from tests.api.helpers import PARSER_BOMBS, error_of
from tests.conftest import People, bearer

SESSIONS = "/api/v1/sessions"
SURROGATE = b'"\\ud800"'

# Each operation with a JSON body, its path parameters filled with a made-up id: the body is
# parsed before the handler looks anything up.
JSON_OPERATIONS = sorted(
    (ep.method, re.sub(r"{\w+}", "no-such-thing", ep.path))
    for api in API_MODULES
    for ep in api.endpoints
    if ep.body is not None
)


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    return error_of(response)


@pytest.mark.parametrize(("method", "path"), JSON_OPERATIONS)
async def test_every_json_body_refuses_text_that_cannot_be_stored(
    client: httpx.AsyncClient, people: People, method: str, path: str
) -> None:
    """Lone surrogates (and NUL) in values and keys, at any depth: 422 naming each field."""
    headers = {**people.admin, "content-type": "application/json"}
    raw = b'{"title": ' + SURROGATE + b', "meta": {"a\\udfffb": [1, "ok", "x\\u0000"]}}'
    error = _error(await client.request(method, path, content=raw, headers=headers), 422)
    assert error["code"] == "validation_failed"
    found = {(d["field"], d["type"]) for d in error["details"]}
    assert found == {
        ("title", "lone_surrogate"),
        ("meta.a\ufffdb", "lone_surrogate"),
        ("meta.a\ufffdb.2", "nul_character"),
    }


@pytest.mark.parametrize(("method", "path"), JSON_OPERATIONS)
@pytest.mark.parametrize("bomb", sorted(PARSER_BOMBS))
async def test_every_json_body_refuses_parser_bombs(
    client: httpx.AsyncClient,
    people: People,
    method: str,
    path: str,
    bomb: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = {**people.admin, "content-type": "application/json"}
    with caplog.at_level(logging.ERROR):
        response = await client.request(method, path, content=PARSER_BOMBS[bomb], headers=headers)
    assert _error(response, 400)["code"] == "invalid_json"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_other_json_readers_share_the_parser(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    """The recording-link upload and the development sign-in read JSON bodies themselves."""
    session = await new_session(start=True)
    json_type = {"content-type": "application/json"}
    link = await client.post(
        f"{SESSIONS}/{session['id']}/recordings",
        content=b'{"recordingUrl": "https://x.example/' + SURROGATE[1:-1] + b'"}',
        headers={**people.teacher, **json_type},
    )
    assert _error(link, 422)["details"][0]["type"] == "lone_surrogate"
    bomb = await client.post(
        f"{SESSIONS}/{session['id']}/recordings",
        content=b"[" * 100_000,
        headers={**people.teacher, **json_type},
    )
    assert _error(bomb, 400)["code"] == "invalid_json"
    token = await client.post(
        "/dev/token",
        content=b'{"sub": "u1", "name": ' + SURROGATE + b', "role": "student", "tenant": "t"}',
        headers=json_type,
    )
    assert _error(token, 422)["details"][0]["field"] == "name"


async def test_bearer_claims_that_cannot_be_stored_are_refused(client: httpx.AsyncClient) -> None:
    for name in ("\ud800", "Ann\x00"):
        response = await client.get(SESSIONS, headers=bearer("u1", "student", name=name))
        assert _error(response, 401)["code"] == "invalid_claims"


async def test_rows_stored_before_the_edge_checked_them_stay_readable(
    client: httpx.AsyncClient, people: People, services: Services, backend: str
) -> None:
    """A session whose metadata holds lone surrogates and NaN (JSON columns took them before
    input was checked): every read answers 200, each lone surrogate shown as U+FFFD, NaN as
    null."""
    teacher = Principal("teacher-1", "Tina Teacher", UserRole.INSTRUCTOR, "acme")
    metadata: dict[str, Any] = {"k": "\udfff", "pair": "\ud83d\ude00", "\ud800": 1}
    if backend == "embedded":  # SQLite's JSON took NaN; PostgreSQL never did
        metadata["n"] = float("nan")
    draft = SessionDraft.model_validate({"title": "Bad row", "metadata": metadata})
    created = await services.sessions.create(teacher, draft)
    for path, who in [
        (SESSIONS, people.student),
        (f"{SESSIONS}/{created.row.id}", people.student),
        ("/api/v1/me/sessions", people.teacher),
    ]:
        response = await client.get(path, headers=who)
        assert response.status_code == 200, (path, response.text)
        assert "Bad row" in response.text
    detail = (await client.get(f"{SESSIONS}/{created.row.id}", headers=people.teacher)).json()
    metadata = detail["metadata"]
    assert (metadata["k"], metadata["pair"]) == ("\ufffd", "\U0001f600")
    if backend == "embedded":
        assert metadata["n"] is None
    # The bad key: U+FFFD for it (SQLite's JSON functions may have split it into bytes).
    assert {key for key in metadata if key not in ("k", "pair", "n")} <= {"\ufffd", "\ufffd" * 3}


async def test_a_client_leaving_mid_body_is_no_server_error(
    app: Starlette, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    """The body stops half-way with a disconnect: logged at INFO, not as a 500."""
    body = b'{"title": "Alg'
    messages: list[Message] = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    auth = people.teacher["Authorization"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": SESSIONS,
        "raw_path": SESSIONS.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", auth),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert statuses, sent
    assert statuses[0] < 500, statuses
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("went away mid-request" in r.getMessage() for r in caplog.records)


def test_no_module_of_api_renders_json_with_starlettes_class() -> None:
    """``api.responses.JSONResponse`` reads back stored text that UTF-8 cannot carry;
    Starlette's own would answer 500 for it."""
    offenders = []
    for path in Path("api").rglob("*.py"):
        if path.name == "responses.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "starlette.responses"
                and any(alias.name == "JSONResponse" for alias in node.names)
            ):
                offenders.append(str(path))
    assert offenders == []
