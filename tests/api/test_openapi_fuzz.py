"""Property-based fuzzing of every operation in the app's own OpenAPI document (schemathesis).

The property: no request, however odd, makes the server answer 5xx. Each generated case is sent
as an instructor and as a student (both of the tenant that owns the seeded data) and, for the
read-only and unauthenticated operations, anonymously too. Path parameters are sometimes
replaced with the ids of a seeded live session, room name and recording, so the fuzzer gets
past the 404s into the handlers' real work.

Runs on both backends (the ``backend`` fixture) against the real app with its lifespan: the
schemathesis ASGI client runs the app on its own event loop thread, so the app's lifespan is
started there (the database engine and the Redis client belong to that loop) and the seed data
is created through the same client. Bounded and deterministic: ``derandomize=True``, a fixed
number of examples per operation, no example database.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from tests.conftest import BACKENDS, JWT_SECRET, SECRET_KEY, FakeClock, _truncate_postgres, bearer

MAX_EXAMPLES = 25

# The document does not depend on settings: build it once for collection.
_DOCUMENT = create_app(Settings(jwt_secret=JWT_SECRET, secret_key=SECRET_KEY)).state.openapi
schema = schemathesis.openapi.from_dict(_DOCUMENT)
schema.config.phases.update(phases=["examples", "fuzzing"])

INSTRUCTOR = bearer("fuzz-teacher", "instructor", name="Fuzz Teacher")
STUDENT = bearer("fuzz-student", "student", name="Fuzz Student")
# Webhook operations are for tenant admins: they are also sent as one.
ADMIN = bearer("fuzz-admin", "admin", name="Fuzz Admin")

# Operations also sent without a bearer token: the unauthenticated ones and a subset of reads
# and writes whose 401 path must hold for any input.
ANONYMOUS = {
    "GET /healthz",
    "GET /readyz",
    "GET /api/v1/sessions",
    "GET /api/v1/sessions/{ref}",
    "POST /api/v1/sessions",
    "POST /api/v1/sessions/{ref}/token",
    "GET /api/v1/recordings/{rid}/file",
    "GET /api/v1/sessions/{ref}/messages",
}


@dataclass
class Seed:
    """Real ids the fuzzer substitutes into path parameters."""

    values: dict[str, list[str]] = field(default_factory=dict)


SEED = Seed()


@schema.hook("flatmap_path_parameters")
def _sometimes_real_ids(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Keep the generated values, or use a seeded id for each parameter that has one."""
    if not path_parameters:
        return st.just(path_parameters)
    choices = [dict(path_parameters)]
    real = {k: SEED.values[k] for k in path_parameters if SEED.values.get(k)}
    if real:
        for index in range(max(len(v) for v in real.values())):
            variant = dict(path_parameters)
            for name, values in real.items():
                variant[name] = values[index % len(values)]
            choices.append(variant)
    return st.sampled_from(choices) if len(choices) > 1 else st.just(choices[0])


@dataclass
class Tally:
    """How many requests the fuzzer sent, per backend, operation and caller."""

    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    seeded_hits: Counter[tuple[str, str]] = field(default_factory=Counter)

    def for_operation(self, backend: str, label: str) -> tuple[int, int]:
        calls = sum(n for (b, op, _), n in self.calls.items() if (b, op) == (backend, label))
        return calls, self.seeded_hits[(backend, label)]

    def total(self, backend: str | None = None) -> int:
        return sum(n for (b, _, _), n in self.calls.items() if backend in (None, b))


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    lines = [f"schemathesis fuzz: {TALLY.total()} requests in all"]
    for backend in sorted({b for b, _, _ in TALLY.calls}):
        by_who = Counter[str]()
        for (b, _, who), n in TALLY.calls.items():
            if b == backend:
                by_who[who] += n
        seeded = sum(n for (b, _), n in TALLY.seeded_hits.items() if b == backend)
        parts = ", ".join(f"{who} {n}" for who, n in sorted(by_who.items()))
        lines.append(
            f"  {backend}: {TALLY.total(backend)} ({parts}); {seeded} of them on seeded ids"
        )
    print("\n".join(lines))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)


def _seed(client: requests.Session) -> dict[str, list[str]]:
    def post(path: str, headers: dict[str, str], **kwargs: Any) -> dict[str, Any]:
        response = client.post(path, headers=headers, **kwargs)
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        result: dict[str, Any] = response.json()
        return result

    # A webhook endpoint first (reused: a tenant has at most 20), so the events below leave
    # deliveries in the log (their attempts to the discard port fail: that is fine).
    endpoints = client.get("/api/v1/webhooks/endpoints", headers=ADMIN).json()["endpoints"]
    if not endpoints:
        endpoints = [post("/api/v1/webhooks/endpoints", ADMIN, json={"url": "http://127.0.0.1:9/"})]
    live = post("/api/v1/sessions", INSTRUCTOR, json={"title": "Fuzzed live", "maxParticipants": 3})
    post(f"/api/v1/sessions/{live['id']}/enroll", STUDENT)
    post(f"/api/v1/sessions/{live['id']}/start", INSTRUCTOR)
    post(f"/api/v1/sessions/{live['id']}/join", STUDENT)
    post(f"/api/v1/sessions/{live['id']}/messages", STUDENT, json={"text": "hello fuzz"})
    recording = post(
        f"/api/v1/sessions/{live['id']}/recordings",
        INSTRUCTOR,
        json={"recordingUrl": "https://cdn.example.com/fuzz.mp4"},
    )
    scheduled = post("/api/v1/sessions", INSTRUCTOR, json={"title": "Fuzzed scheduled"})
    deliveries = client.get("/api/v1/webhooks/deliveries", headers=ADMIN).json()["deliveries"]
    return {
        "ref": [live["id"], scheduled["id"], live["roomName"]],
        "rid": [recording["id"]],
        "endpoint_id": [endpoints[0]["id"]],
        "delivery_id": [d["id"] for d in deliveries[:3]],
    }


@dataclass
class FuzzTarget:
    app: Starlette
    backend: str
    client: requests.Session


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    """One app per backend for the whole module (starting one per operation would cost more
    than the fuzzing), started by schemathesis' ASGI client on its event loop thread.

    The same stores as the ``backend`` fixture: a copy of the migrated SQLite template with
    fakeredis, or the worker's PostgreSQL database (emptied) with its Redis database (flushed).
    """
    backend = str(request.param)
    data_dir = tmp_path_factory.mktemp(f"fuzz-{backend}")
    if backend == "embedded":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, data_dir / "liveclass.db")
        database_url = f"sqlite+aiosqlite:///{data_dir / 'liveclass.db'}"
        redis_url: str | None = None
    else:
        database_url = request.getfixturevalue("postgres_ready")
        _truncate_postgres(database_url)
        redis_url = request.getfixturevalue("redis_ready")
        flush = redis.Redis.from_url(redis_url)
        flush.flushdb()
        flush.close()
    settings = Settings(
        data_dir=data_dir / "data",
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=JWT_SECRET,
        secret_key=SECRET_KEY,
        public_url="http://testserver",
        # A media worker in the process on both backends, as deployed: without one, starting
        # a recording is 503 sfu_unavailable (a missing service, not a bug).
        media_in_process=True,
        media_host_addresses=["127.0.0.1"],
    )
    app = create_app(settings, clock=FakeClock())
    try:
        with asgi.get_client(app) as client:
            yield FuzzTarget(app=app, backend=backend, client=client)
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture
def fuzz_target(fuzz_app: FuzzTarget, request: pytest.FixtureRequest) -> Iterator[FuzzTarget]:
    """Fresh seed data for each operation (the previous one may have ended or deleted it).

    Afterwards: the operation was really exercised, and on the seeded ids when it has path
    parameters (otherwise the fuzzing would only ever see 404s)."""
    SEED.values = _seed(fuzz_app.client)
    label = str(getattr(request.node, "operation_label", ""))
    before = TALLY.for_operation(fuzz_app.backend, label)
    try:
        yield fuzz_app
    finally:
        SEED.values = {}
    after = TALLY.for_operation(fuzz_app.backend, label)
    calls, seeded = after[0] - before[0], after[1] - before[1]
    assert calls > 0, f"no request was sent for {label}"
    if "{" in label:
        assert seeded > 0, f"{label} was never fuzzed with a seeded id"


def _describe(case: Any, response: Any) -> str:
    body = response.text[:2000]
    with contextlib.suppress(ValueError):
        body = json.dumps(response.json(), indent=2)[:2000]
    return (
        f"{case.method} {case.formatted_path} -> {response.status_code}\n"
        f"query={case.query!r} body={case.body!r}\n{body}"
    )


def _auth_of(case: Any) -> str:
    """``required``, ``optional`` or ``none``, as the document declares the operation."""
    security = _DOCUMENT["paths"][case.path][case.method.lower()].get("security")
    if security is None:
        return "none"
    return "optional" if {} in security else "required"


def _without_authorization(case: Any) -> dict[str, Any] | None:
    headers = case.headers
    if headers:
        case.headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    return cast("dict[str, Any] | None", headers)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx(case: Any, fuzz_target: FuzzTarget) -> None:
    """No input makes any operation fail with 5xx, for any caller; and callers without a
    valid token never get past authentication where it is needed."""
    label = f"{case.method} {case.path}"
    seeded = any(v in SEED.values.get(k, []) for k, v in (case.path_parameters or {}).items())
    auth = _auth_of(case)

    def send(who: str, headers: dict[str, str] | None) -> Any:
        response = case.call(app=fuzz_target.app, headers=headers)
        TALLY.calls[(fuzz_target.backend, label, who)] += 1
        if seeded:
            TALLY.seeded_hits[(fuzz_target.backend, label)] += 1
        assert response.status_code < 500, f"as {who}: " + _describe(case, response)
        case.validate_response(response, checks=[not_a_server_error])
        return response

    send("instructor", INSTRUCTOR)
    send("student", STUDENT)
    if "/webhooks/" in label:
        send("admin", ADMIN)
    if label not in ANONYMOUS:
        return
    # The generated Authorization header (garbage such as "Bearer 0"), then none at all.
    garbage = send("garbage-token", None)
    original = _without_authorization(case)
    try:
        anonymous = send("anonymous", None)
    finally:
        case.headers = original
    if auth == "required":
        assert garbage.status_code == 401, _describe(case, garbage)
        assert anonymous.status_code == 401, _describe(case, anonymous)
        assert anonymous.json()["error"]["code"] == "missing_token"
