"""Fixtures shared by the whole suite.

Every API test runs twice, via the ``backend`` parameter:

- ``embedded``: a SQLite file and an in-process fakeredis (the server's no-set-up default);
- ``services``: the real PostgreSQL and the real Redis.

``client`` is an httpx client on the ASGI app with its lifespan running; ``bearer(...)`` mints
platform tokens; ``clock`` moves time for presence and link expiry.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import redis
from starlette.applications import Starlette

from api.app import create_app
from api.auth import mint_platform_token
from api.services import Services
from api.settings import Settings
from rooms.identity import UserRole
from rooms.store import create_database, upgrade_database
from rooms.store.tables import Base
from signaling.hub import Hub
from tests import services as svc
from tests.integration.cluster import Node, deployment_env, start_node
from tests.signaling.harness import two_nodes as two_hubs

JWT_SECRET = "test-platform-secret-0123456789abcdef"
SECRET_KEY = "test-server-secret-0123456789abcdef"
BACKENDS = ["embedded", "services"]


class FakeClock:
    """Wall-clock time plus an offset the test controls."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self._time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def build() -> None:
        database = create_database(f"sqlite+aiosqlite:///{path}")
        await upgrade_database(database)
        await database.dispose()

    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> str:
    """A fresh, migrated PostgreSQL database for this worker."""
    svc.recreate_postgres_database()
    url = svc.postgres_url()

    async def migrate() -> None:
        database = create_database(url)
        await upgrade_database(database)
        await database.dispose()

    asyncio.run(migrate())
    return url


@pytest.fixture(scope="session")
def redis_ready() -> str:
    svc.check_redis()
    return svc.redis_url()


@pytest.fixture
def redis_empty(redis_ready: str) -> str:
    """This worker's Redis database, emptied: a test that boots servers on it must not find
    a previous test's media workers, rooms or assignments there."""
    client = redis.Redis.from_url(redis_ready)
    client.flushdb()
    client.close()
    return redis_ready


@pytest.fixture
def node_env() -> dict[str, str]:
    """Extra ``LIVECLASS_*`` variables for the nodes of :func:`two_nodes`; a module overrides
    this fixture to tune them."""
    return {}


@pytest.fixture
def deployment_redis(redis_empty: str) -> str:
    """The Redis URL the nodes of :func:`two_nodes` share; a module overrides it (a private
    Redis it restarts)."""
    return redis_empty


@pytest.fixture
async def two_nodes(
    postgres_ready: str, deployment_redis: str, node_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[tuple[Node, Node]]:
    """Two ``liveclass serve`` processes (``node-a``, ``node-b``) of one deployment: one
    PostgreSQL database, one Redis."""
    env = {**deployment_env(postgres_ready, deployment_redis), **node_env}
    async with (
        start_node("node-a", env, tmp_path / "a") as a,
        start_node("node-b", env, tmp_path / "b") as b,
    ):
        yield a, b


def _truncate_postgres(url: str) -> None:
    async def run() -> None:
        database = create_database(url)
        tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
        async with database.engine.begin() as conn:
            await conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
        await database.dispose()

    asyncio.run(run())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "embedded":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "liveclass.db"
        shutil.copy(template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("postgres_ready")
    _truncate_postgres(url)
    return url


@pytest.fixture
def redis_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    if backend == "embedded":
        return None
    url: str = request.getfixturevalue("redis_ready")
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def settings_factory(
    tmp_path: Path, database_url: str, redis_url: str | None
) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "redis_url": redis_url,
            "jwt_secret": JWT_SECRET,
            "secret_key": SECRET_KEY,
            "public_url": "http://testserver",
            # Tests that want the in-process media worker ask for it; the others place rooms
            # on workers they control.
            "media_in_process": False,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def settings(request: pytest.FixtureRequest, settings_factory: Callable[..., Settings]) -> Settings:
    """The default test settings, with the overrides of the test's ``settings`` mark if it has
    one (``pytestmark = pytest.mark.settings(chat_burst=1000)``)."""
    mark = request.node.get_closest_marker("settings")
    return settings_factory(**(mark.kwargs if mark else {}))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[Starlette]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def services(app: Starlette) -> Services:
    result: Services = app.state.services
    return result


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def bearer(
    sub: str,
    role: str = "student",
    tenant: str = "acme",
    *,
    name: str | None = None,
    ttl: int = 3600,
    secret: str = JWT_SECRET,
) -> dict[str, str]:
    """``Authorization`` header for a platform user."""
    token = mint_platform_token(
        secret,
        sub=sub,
        name=name or sub.title(),
        role=UserRole(role),
        tenant=tenant,
        ttl_seconds=ttl,
    )
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class People:
    """The usual cast of one tenant (acme) and a stranger from another (globex)."""

    teacher: dict[str, str]
    other_teacher: dict[str, str]
    student: dict[str, str]
    student2: dict[str, str]
    admin: dict[str, str]
    outsider: dict[str, str]
    outsider_admin: dict[str, str]


@pytest.fixture
def people() -> People:
    return People(
        teacher=bearer("teacher-1", "instructor", name="Tina Teacher"),
        other_teacher=bearer("teacher-2", "instructor", name="Otto Other"),
        student=bearer("student-1", "student", name="Sam Student"),
        student2=bearer("student-2", "student", name="Sue Second"),
        admin=bearer("admin-1", "admin", name="Ada Admin"),
        outsider=bearer("student-9", "student", "globex", name="Olga Outsider"),
        outsider_admin=bearer("admin-9", "admin", "globex", name="Gus Globex"),
    )


class NewSession(Protocol):
    """The :func:`new_session` fixture's type."""

    async def __call__(
        self, *, start: bool = False, as_: dict[str, str] | None = None, **fields: object
    ) -> dict[str, Any]: ...


@pytest.fixture
def new_session(client: httpx.AsyncClient, people: People) -> NewSession:
    """``await new_session(**fields)`` creates a session as ``people.teacher``;
    ``start=True`` also starts it."""

    async def make(
        *, start: bool = False, as_: dict[str, str] | None = None, **fields: object
    ) -> dict[str, Any]:
        body = {"title": "Algebra I", **fields}
        response = await client.post("/api/v1/sessions", json=body, headers=as_ or people.teacher)
        assert response.status_code == 201, response.text
        session: dict[str, Any] = response.json()
        if start:
            started = await client.post(
                f"/api/v1/sessions/{session['id']}/start", headers=as_ or people.teacher
            )
            assert started.status_code == 200, started.text
            session = started.json()
        return session

    return make


@pytest.fixture(autouse=True)
def _no_leaked_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings are built explicitly in tests; the developer's LIVECLASS_* never leak in."""
    import os

    for key in list(os.environ):
        if key.startswith("LIVECLASS_") and not key.startswith("LIVECLASS_TEST_"):
            monkeypatch.delenv(key)


#: The fast loop (``make test-fast``): the embedded backend only, no real services, no
#: browser, no separate processes. CI always runs everything.
_FAST = os.environ.get("LIVECLASS_TEST_FAST") == "1"
_SLOW_DIRS = ("cluster", "integration", "reliability", "web", "bench")
_SLOW_FILES = ("test_openapi_fuzz.py",)  # the fuzzer: thousands of requests
#: Examples per property-based fuzz test: fewer in the fast loop (CI runs them all).
FUZZ_EXAMPLES = 120 if _FAST else 600
_SERVICE_FIXTURES = {"postgres_ready", "redis_ready", "redis_empty"}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The fast loop does not even import the slow groups (their imports alone, Playwright and
    the bench among them, took seconds of every worker's start)."""
    if not _FAST:
        return None
    try:
        parts = collection_path.relative_to(Path(__file__).parent).parts
    except ValueError:
        return None
    if (parts and parts[0] in _SLOW_DIRS) or collection_path.name in _SLOW_FILES:
        return True
    return None


def _apply_xdist_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--dist loadgroup`` keeps the tests of one ``xdist_group`` on one worker by the
    ``@group`` suffix pytest-xdist adds to their node ids. pytest-xdist 3.8 writes the suffix to
    ``item._nodeid``, which pytest 9 no longer reads (a node id is ``item._id``): the groups
    were silently ignored, and both workers brought up the cross-node topology (~30 s each)
    for the half of its tests each got. The suffix is put where pytest reads it; a pytest or
    xdist where neither works fails the run instead of splitting the groups again."""
    if not config.getoption("loadgroup", default=False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        marks = item.iter_markers("xdist_group")
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        if not names:
            continue
        suffix = "@" + "_".join(sorted(names))
        if not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)
        if not item.nodeid.endswith(suffix):
            raise pytest.UsageError(f"{item.nodeid}: cannot give it its xdist group {suffix}")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _apply_xdist_groups(config, items)
    if not _FAST:
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        parts = Path(str(item.path)).relative_to(Path(__file__).parent).parts
        callspec = getattr(item, "callspec", None)
        slow = (
            (len(parts) > 1 and parts[0] in _SLOW_DIRS)
            or parts[-1] in _SLOW_FILES
            or (callspec is not None and callspec.params.get("backend") == "services")
            or bool(_SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())))
        )
        (dropped if slow else kept).append(item)
    items[:] = kept
    config.hook.pytest_deselected(items=dropped)


@pytest.fixture
async def nodes(services: Services) -> AsyncIterator[tuple[Hub, Hub]]:
    """Two in-process hubs on one deployment (tests/signaling/harness.py ``two_nodes``)."""
    async with two_hubs(services) as pair:
        yield pair


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported by now lives for the whole run: the garbage collector stops looking
    at it. The media tests collect garbage after each test to catch leaked sockets, and a full
    collection over every imported module cost ~0.15 s a test."""
    gc.freeze()


_TESTS_PER_FREEZE = 50
_tests_since_freeze = 0


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """Every 50 tests: collect what is garbage, then stop looking at what survived. What
    outlives tests (caches, the fixtures of a whole module or run) piled up to 100,000+
    objects, and each full collection walked them all: 10-20 s of a worker's time in the
    fast loop, mostly the media tests' collections that look for leaked sockets."""
    global _tests_since_freeze
    _tests_since_freeze += 1
    if _tests_since_freeze >= _TESTS_PER_FREEZE:
        _tests_since_freeze = 0
        gc.collect()
        gc.freeze()


def _dump_asyncio_tasks(signum: int, frame: object) -> None:
    """SIGUSR1: every asyncio task's stack to /tmp/liveclass-tasks-<pid>.txt, to see where a
    hung test waits (``kill -USR1 <worker pid>``; found the heartbeat that swallowed its own
    cancellation, tests/rooms/test_futures.py)."""
    out = io.StringIO()
    try:
        tasks = asyncio.all_tasks(asyncio.get_running_loop())
    except RuntimeError:
        tasks = set()
    for task in tasks:
        out.write(f"--- {task!r}\n")
        task.print_stack(file=out)
    Path(f"/tmp/liveclass-tasks-{os.getpid()}.txt").write_text(out.getvalue())


if hasattr(signal, "SIGUSR1"):
    signal.signal(signal.SIGUSR1, _dump_asyncio_tasks)
