"""Property-based fuzzing of every operation in the app's own OpenAPI document (schemathesis).

The property: no request, however odd, makes the server answer 5xx. Each generated case is sent
as an instructor and as a student (both of the tenant that owns the seeded data) and, for the
read-only and unauthenticated operations, anonymously too. Path parameters are sometimes
replaced with the ids of a seeded live session, room name and recording, so the fuzzer gets
past the 404s into the handlers' real work.

Hostile input on top (issue 14): hooks mix Unicode edge cases (lone surrogates, NUL, bidi
overrides, a BOM, emoji), numbers past 64 bits and nesting 50 deep into the generated bodies,
queries and path parameters; ``test_raw_hostile_input`` sends every operation what no JSON
encoder produces (``[`` x 100,000, 5,000-digit numbers, raw surrogate escapes, invalid UTF-8,
percent-encoded surrogates in paths and queries). Besides no 5xx: nothing logged at ERROR
and no traceback, for any of it.

Runs on both backends (the ``backend`` fixture) against the real app with its lifespan: the
schemathesis ASGI client runs the app on its own event loop thread, so the app's lifespan is
started there (the database engine and the Redis client belong to that loop) and the seed data
is created through the same client. Bounded and deterministic: ``derandomize=True``, a fixed
number of examples per operation, no example database.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
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
from tests.api.helpers import PARSER_BOMBS
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
    for hostile in ("\x00", "\u202e\U0001f600", "9" * 5000):
        choices.append(dict.fromkeys(path_parameters, hostile))
    real = {k: SEED.values[k] for k in path_parameters if SEED.values.get(k)}
    if real:
        for index in range(max(len(v) for v in real.values())):
            variant = dict(path_parameters)
            for name, values in real.items():
                variant[name] = values[index % len(values)]
            choices.append(variant)
    return st.sampled_from(choices) if len(choices) > 1 else st.just(choices[0])


# -- Unicode edge cases and parser bombs --------------------------------------------------
#
# Mixed into what schemathesis generates (hooks below): lone surrogates (sent as JSON
# escapes), NUL, bidi overrides, a BOM, emoji, numbers past 64 bits and float range, nesting
# 100 deep. What a JSON encoder cannot produce (a 5,000-digit number, [ x 100,000, invalid
# UTF-8, surrogates in URLs) goes raw to every operation in test_raw_hostile_input below.

ENCODABLE_TEXT = [
    "\x00",
    "nul\x00byte",
    "\u202egnp.exe\u202c",
    "\u200f\u05e9\u05dc\u05d5\u05dd",
    "\ufeffbom",
    "\U0001f600" * 4,
]
SURROGATES = ["\ud800", "a\udfffb", "\udbff\udbff"]
NUMBERS: list[Any] = [2**63, -(2**63) - 1, 2**64, 10**300, 1e308, -1e308, 5e-324]


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"k": [value]}
    return value


def _hostile_values(json_only: bool) -> st.SearchStrategy[Any]:
    text = ENCODABLE_TEXT + (SURROGATES * 2 if json_only else [])
    values: list[Any] = [*text, *NUMBERS, _nested(50)] if json_only else text
    return st.sampled_from(values)


def _poison(value: Any, hostile: Any, rnd: Any) -> Any:
    """``value`` with one leaf (or one new key) replaced by ``hostile``; or, one time in
    two, every leaf of its type inside nested objects and a new key in each of them (so
    free-form fields such as ``metadata`` get it while the typed fields stay valid)."""
    if rnd.random() < 1 / 2:
        return _poison_all(value, hostile, 0)
    if isinstance(value, dict):
        keys = list(value)
        if not keys or rnd.random() < 0.25:
            key = hostile if isinstance(hostile, str) else "extra"
            return {**value, key: hostile}
        key = rnd.choice(keys)
        return {**value, key: _poison(value[key], hostile, rnd)}
    if isinstance(value, list) and value:
        index = rnd.randrange(len(value))
        return [*value[:index], _poison(value[index], hostile, rnd), *value[index + 1 :]]
    return hostile


def _poison_all(value: Any, hostile: Any, depth: int) -> Any:
    if isinstance(value, dict):
        out = {k: _poison_all(v, hostile, depth + 1) for k, v in value.items()}
        if depth:
            out[hostile if isinstance(hostile, str) else "extra"] = hostile
        return out
    if isinstance(value, list):
        return [_poison_all(v, hostile, depth + 1) for v in value]
    if depth <= 1:  # the top-level fields keep their values: they get single-leaf edits
        return value
    if isinstance(value, str) and isinstance(hostile, str):
        return hostile
    if isinstance(value, int | float) and not isinstance(value, bool):
        return hostile if isinstance(hostile, int | float) else value
    return value


def _hostile(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` holds one of the edge cases above (to count the cases that did)."""
    if isinstance(value, str):
        return (
            value in ENCODABLE_TEXT
            or value in SURROGATES
            or "\x00" in value
            or (len(value) >= 400 and value.lstrip("-").isdigit())
        )
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value in NUMBERS
    if isinstance(value, dict):
        return depth >= 40 or any(
            _hostile(k, depth + 1) or _hostile(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_hostile(v, depth + 1) for v in value)
    return False


def _json_only(context: Any) -> bool:
    operation = context.operation
    return operation is not None and all(
        alt.media_type == "application/json" for alt in operation.body
    )


@schema.hook("flatmap_body")
def _hostile_body(context: Any, body: Any) -> Any:
    if not isinstance(body, dict):
        return st.just(body)
    poisoned = st.builds(
        _poison,
        st.just(body),
        _hostile_values(_json_only(context)),
        st.randoms(use_true_random=False),
    )
    # Mostly poisoned: the plain bodies are fuzzed by schemathesis as they are, too.
    return st.one_of(st.just(body), poisoned, poisoned)


@schema.hook("flatmap_query")
def _hostile_query(context: Any, query: dict[str, Any] | None) -> Any:
    if not query:
        return st.just(query)
    values = st.sampled_from([*ENCODABLE_TEXT, "9" * 5000, "-" + "9" * 400, "1e999"])
    poisoned = st.builds(_poison, st.just(query), values, st.randoms(use_true_random=False))
    return st.one_of(st.just(query), poisoned)


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
#: Generated cases holding Unicode edge cases, huge numbers or deep nesting, per backend.
HOSTILE_TALLY: Counter[str] = Counter()
#: Requests sent by test_raw_hostile_input, per backend.
RAW_TALLY: Counter[str] = Counter()


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
    if HOSTILE_TALLY:
        lines.append(
            "  cases with Unicode edge cases, huge numbers or deep nesting: "
            f"{dict(sorted(HOSTILE_TALLY.items()))}"
        )
    if RAW_TALLY:
        lines.append(f"  raw hostile input: {dict(sorted(RAW_TALLY.items()))}")
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
    poll = post(
        f"/api/v1/sessions/{live['id']}/polls",
        INSTRUCTOR,
        json={"question": "Fuzz?", "options": ["yes", "no"]},
    )
    scheduled = post("/api/v1/sessions", INSTRUCTOR, json={"title": "Fuzzed scheduled"})
    deliveries = client.get("/api/v1/webhooks/deliveries", headers=ADMIN).json()["deliveries"]
    return {
        "ref": [live["id"], scheduled["id"], live["roomName"]],
        "rid": [recording["id"]],
        "poll_id": [poll["id"]],
        "endpoint_id": [endpoints[0]["id"]],
        "delivery_id": [d["id"] for d in deliveries[:3]],
    }


class ErrorLog(logging.Handler):
    """Every record the app logs at ERROR or with a traceback (there must be none)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(f"{record.name}: {record.getMessage()}")

    def take(self) -> list[str]:
        records, self.records = self.records, []
        return records


@dataclass
class FuzzTarget:
    app: Starlette
    backend: str
    client: requests.Session
    errors: ErrorLog


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
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        # schemathesis types an ASGI app with dict scopes and messages; Starlette's take any
        # MutableMapping, which is the same app at run time.
        with asgi.get_client(cast("asgi.ASGIApp", app)) as client:
            yield FuzzTarget(app=app, backend=backend, client=client, errors=errors)
    finally:
        asgi.shutdown_lifespans()
        logging.getLogger().removeHandler(errors)


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
    assert fuzz_app.errors.take() == [], "errors or tracebacks in the log"
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
    if any(_hostile(part) for part in (case.body, case.query, case.path_parameters)):
        HOSTILE_TALLY[fuzz_target.backend] += 1
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


RAW_BODIES: dict[str, bytes] = {
    **PARSER_BOMBS,
    "lone surrogates": b'{"title": "\\ud800", "text": "a\\udfffb", "\\udc00": 1}',
    "NUL": b'{"title": "a\\u0000b", "text": "\\u0000"}',
    "bidi and BOM": '{"title": "\ufeff\u202egnp.exe", "text": "\u200f\u05e9"}'.encode(),
}
# Already percent-encoded: a lone surrogate and an invalid byte as URLs carry them.
RAW_URL_VALUES = ["%ED%A0%80", "%00", "9" * 5000, "%E2%80%AE%F0%9F%98%80", "%FF%FE"]
OPERATIONS = sorted(
    (method.upper(), path) for path, item in _DOCUMENT["paths"].items() for method in item
)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_raw_hostile_input(fuzz_app: FuzzTarget, method: str, path: str) -> None:
    """What a JSON encoder cannot produce, on every operation: raw bodies (parser bombs,
    lone surrogates, NUL, invalid UTF-8), raw path and query values (a percent-encoded lone
    surrogate, NUL, 5,000 digits). Never 5xx, never a traceback."""
    seed = _seed(fuzz_app.client)
    operation = _DOCUMENT["paths"][path][method.lower()]
    names = re.findall(r"{(\w+)}", path)
    paths = {path.format(**{n: seed.get(n, ["x"])[0] for n in names})}
    paths |= {path.format(**dict.fromkeys(names, value)) for value in RAW_URL_VALUES}
    queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    who = ADMIN if "/webhooks/" in path else INSTRUCTOR

    def send(url: str, body: bytes | None = None) -> None:
        headers = {**who, "Content-Type": "application/json"} if body is not None else who
        response = fuzz_app.client.request(method, url, data=body, headers=headers)
        RAW_TALLY[fuzz_app.backend] += 1
        assert response.status_code < 500, (method, url[:200], body and body[:80], response.text)

    for url in sorted(paths):
        if "requestBody" in operation:
            for body in RAW_BODIES.values():
                send(url, body)
        for value in RAW_URL_VALUES if queries else []:
            send(url + "?" + "&".join(f"{name}={value}" for name in queries))
        send(url)
    assert fuzz_app.errors.take() == [], "errors or tracebacks in the log"
