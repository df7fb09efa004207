"""The layering rule, checked on the source with ``ast``.

Imports go one way::

    api ──► signaling ──► rooms
     ├──────────────────► rooms ◄── media
     └──────────────────────────────► media   (the composition root starts media workers)

- ``rooms`` (the domain) imports none of ``api``, ``signaling`` or ``media``;
- nothing imports ``api`` (the composition root; only the tests do);
- ``signaling`` imports neither ``api`` nor ``media``; ``media`` neither ``api`` nor
  ``signaling``;
- product code never imports ``tests``.

No import cycle among the project's modules, and no module of ``api``, ``signaling``, ``rooms``
or ``media`` over :data:`MAX_LINES` lines (but for the short allow-list below).

Every import counts: top-level, inside functions, under ``TYPE_CHECKING``, relative, and
``importlib.import_module("...")`` with a literal name. And only ``api/settings.py`` reads the
environment: no ``os.environ``/``os.getenv`` and no pydantic ``BaseSettings`` elsewhere.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["api", "rooms", "signaling", "media", "bench"]

#: The first-party packages each package must not import.
FORBIDDEN: dict[str, set[str]] = {
    "rooms": {"api", "signaling", "media", "bench", "tests"},
    "signaling": {"api", "media", "bench", "tests"},
    "media": {"api", "signaling", "bench", "tests"},
    # api is the composition root: it starts media workers (`liveclass media`, and one inside
    # `liveclass serve` on the embedded defaults), so it may import media; media never
    # imports api or signaling.
    "api": {"bench", "tests"},
    "bench": {"api", "tests"},
}

SETTINGS_MODULE = Path("api/settings.py")


@dataclass(frozen=True)
class Import:
    path: Path  # relative to ROOT
    line: int
    module: str  # absolute dotted name

    @property
    def top(self) -> str:
        return self.module.split(".", 1)[0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.module}"


def module_name(path: Path) -> str:
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(path: Path, level: int, module: str | None) -> str:
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, module] if module else base)


def imports_of(path: Path, source: str) -> Iterator[Import]:
    """Every module ``source`` (the file at ``path``, relative to ROOT) imports."""
    tree = parse(source, str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(path, node.level, node.module)
            else:
                base = node.module or ""
            yield Import(path, node.lineno, base)
            # ``from rooms import errors`` also imports rooms.errors (it may be a module).
            for alias in node.names:
                if alias.name != "*":
                    yield Import(path, node.lineno, f"{base}.{alias.name}" if base else alias.name)
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if (
                name in ("import_module", "__import__")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                yield Import(path, node.lineno, node.args[0].value)


def violations(path: Path, source: str) -> list[str]:
    """Layering violations of one file."""
    package = path.parts[0]
    forbidden = FORBIDDEN[package]
    return [str(imp) for imp in imports_of(path, source) if imp.top in forbidden]


def environment_reads(path: Path, source: str) -> list[str]:
    """Places in ``source`` that read the process environment."""
    found: list[str] = []
    tree = parse(source, str(path))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in ("environ", "environb", "getenv", "getenvb")
        ):
            found.append(f"{path}:{node.lineno} uses os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in ("environ", "environb", "getenv", "getenvb"):
                    found.append(f"{path}:{node.lineno} imports os.{alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module == "pydantic_settings":
            found.append(f"{path}:{node.lineno} imports pydantic_settings")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "pydantic_settings":
                    found.append(f"{path}:{node.lineno} imports pydantic_settings")
    return found


@functools.cache
def parse(source: str, filename: str) -> ast.Module:
    """``source``'s tree, parsed once per process: every checker here walks every file (the
    trees are only read, never changed)."""
    try:
        return ast.parse(source, filename=filename)
    except SystemError as exc:
        # CPython before 3.11.8 (gh-106905): the tree builder's recursion counter is one per
        # interpreter, so another thread parsing while this one was paused (a collection's
        # finalizer lets it run) makes the check at the end fail; the file itself is fine,
        # and a second parse is not interrupted. Seen once under pytest-xdist on 3.11.7.
        if "recursion depth mismatch" not in str(exc):
            raise
        return ast.parse(source, filename=filename)


@functools.cache
def source_files(package: str) -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / package).rglob("*.py"))


@functools.cache
def read(path: Path) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


@pytest.fixture(autouse=True, scope="module")
def _drop_the_parsed_trees() -> Iterator[None]:
    """The trees are hundreds of thousands of objects: kept for the rest of a worker's run,
    they made every later full garbage collection several times slower."""
    yield
    parse.cache_clear()


# -- The rule on the real source --------------------------------------------------------------


def test_every_package_exists_and_has_sources() -> None:
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package
    assert len(source_files("rooms")) >= 10
    assert len(source_files("api")) >= 5


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_go_one_way(package: str) -> None:
    found = [v for path in source_files(package) for v in violations(path, read(path))]
    assert found == [], "layering violations:\n" + "\n".join(found)


def test_the_checker_sees_the_real_imports() -> None:
    """Guard against a checker that silently finds nothing: known edges are found."""
    app = {imp.module for imp in imports_of(Path("api/app.py"), read(Path("api/app.py")))}
    assert "api.settings" in app
    assert any(m.startswith("rooms.") for m in app)
    presence = Path("rooms/presence/base.py")
    assert "rooms.errors" in {imp.module for imp in imports_of(presence, read(presence))}


@pytest.mark.parametrize("package", PACKAGES)
def test_only_settings_reads_the_environment(package: str) -> None:
    found = [
        v
        for path in source_files(package)
        if path != SETTINGS_MODULE
        for v in environment_reads(path, read(path))
    ]
    assert found == [], "environment read outside api/settings.py:\n" + "\n".join(found)


def test_settings_is_where_the_environment_is_read() -> None:
    assert environment_reads(SETTINGS_MODULE, read(SETTINGS_MODULE)) != []


# -- The checker itself: it must catch what the rule forbids ----------------------------------


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("rooms/sessions.py", "import api.app\n"),
        ("rooms/sessions.py", "from api.auth import Authenticator\n"),
        ("rooms/sessions.py", "from api import errors\n"),
        ("rooms/store/engine.py", "from ...api import settings\n"),
        ("rooms/chat.py", "def f():\n    from signaling.hub import Hub\n"),
        (
            "rooms/chat.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from media import sfu\n",
        ),
        ("rooms/chat.py", "import importlib\nimportlib.import_module('api.services')\n"),
        ("rooms/chat.py", "__import__('signaling')\n"),
        ("signaling/hub.py", "from api.services import Services\n"),
        ("signaling/hub.py", "import media.sfu as sfu\n"),
        ("signaling/hub.py", "from .. import api\n"),
        ("media/sfu.py", "from signaling import messages\n"),
        ("media/sfu.py", "from api.settings import Settings\n"),
        ("bench/load.py", "from api.auth import mint_platform_token\n"),
        ("api/app.py", "from tests.conftest import JWT_SECRET\n"),
    ],
)
def test_the_checker_catches_violations(path: str, source: str) -> None:
    assert violations(Path(path), source), source


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("api/app.py", "from signaling.hub import Hub\nfrom rooms import errors\n"),
        ("api/routes/room.py", "from ..endpoint import Api\n"),
        ("signaling/hub.py", "from rooms.presence import Presence\nfrom . import protocol\n"),
        ("media/sfu.py", "from rooms.tokens import RoomGrant\n"),
        ("rooms/chat.py", "from rooms.errors import NotFound\nimport apiary\nimport mediapipe\n"),
        ("rooms/store/engine.py", "from .types import UTCDateTime\n"),
    ],
)
def test_the_checker_allows_the_permitted_directions(path: str, source: str) -> None:
    assert violations(Path(path), source) == []


@pytest.mark.parametrize(
    "source",
    [
        "import os\nos.environ['X']\n",
        "import os\nos.environ.get('X')\n",
        "import os\nos.getenv('X')\n",
        "from os import environ\n",
        "from os import getenv as g\n",
        "from pydantic_settings import BaseSettings\n",
    ],
)
def test_the_environment_checker_catches_reads(source: str) -> None:
    assert environment_reads(Path("rooms/x.py"), source)


def test_the_environment_checker_ignores_other_os_use() -> None:
    source = "import os\nos.path.join('a', 'b')\nos.getpid()\nenviron = {}\n"
    assert environment_reads(Path("rooms/x.py"), source) == []


def test_relative_imports_resolve_to_absolute_names() -> None:
    assert _resolve_relative(Path("rooms/store/engine.py"), 1, "types") == "rooms.store.types"
    assert _resolve_relative(Path("rooms/store/engine.py"), 2, "errors") == "rooms.errors"
    assert _resolve_relative(Path("rooms/store/__init__.py"), 1, "engine") == "rooms.store.engine"
    assert _resolve_relative(Path("rooms/store/engine.py"), 3, None) == ""


# -- One error tree ---------------------------------------------------------------------------


def test_every_deliberate_error_has_one_root() -> None:
    from media.errors import MediaError
    from rooms.errors import BaseError, LiveclassError, NotFound
    from signaling.protocol import ProtocolError

    for branch in (LiveclassError, ProtocolError, MediaError):
        assert issubclass(branch, BaseError), branch
    # The branches stay apart: ``except LiveclassError`` (mapped to HTTP statuses and close
    # codes) still catches the domain's errors only.
    assert not issubclass(ProtocolError, LiveclassError)
    assert not issubclass(MediaError, LiveclassError)
    protocol = ProtocolError("invalid_message", "bad", rid="r1", details={"x": 1})
    media = MediaError("closed", "gone")
    domain = NotFound("no such room", code="room_not_found")
    assert (protocol.code, protocol.message, protocol.rid, protocol.details) == (
        "invalid_message",
        "bad",
        "r1",
        {"x": 1},
    )
    assert (media.code, media.message, repr(media)) == (
        "closed",
        "gone",
        "MediaError('closed', 'gone')",
    )
    assert (domain.code, domain.message, domain.details) == ("room_not_found", "no such room", None)


# -- Every Redis key and channel is spelled in rooms/keys.py ----------------------------------

KEYS_MODULE = Path("rooms/keys.py")

#: A string that starts like a liveclass key or channel: the default prefix, or a placeholder
#: holding a prefix followed by a ``:`` (``f"{self._prefix}:epoch"``).
_KEY_LIKE = re.compile(r"^(lc:|\{[^}]*prefix[^}]*\}:)", re.IGNORECASE)


def _template(node: ast.JoinedStr) -> str:
    parts: list[str] = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif isinstance(value, ast.FormattedValue):
            parts.append("{" + ast.unparse(value.value) + "}")
    return "".join(parts)


def key_builders(path: Path, source: str) -> list[str]:
    """Places in ``source`` that spell a Redis key or channel (f-strings or literals)."""
    found: list[str] = []
    tree = parse(source, str(path))
    in_fstring = {
        id(value)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for value in node.values
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = _template(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in in_fstring:
                continue
            text = node.value
        else:
            continue
        if _KEY_LIKE.match(text):
            found.append(f"{path}:{node.lineno} builds {text!r}")
    return found


@pytest.mark.parametrize("package", ["api", "rooms", "signaling", "media", "bench"])
def test_only_rooms_keys_builds_redis_keys(package: str) -> None:
    found = [
        v
        for path in source_files(package)
        if path != KEYS_MODULE
        for v in key_builders(path, read(path))
    ]
    assert found == [], "a Redis key or channel built outside rooms/keys.py:\n" + "\n".join(found)


def test_rooms_keys_is_where_keys_are_built() -> None:
    assert len(key_builders(KEYS_MODULE, read(KEYS_MODULE))) >= 5


@pytest.mark.parametrize(
    "source",
    [
        'key = f"{self._prefix}:epoch"\n',
        'channel = f"{prefix}:node:{{{node_id}}}"\n',
        'key = f"lc:{{{sid}}}:members"\n',
        'key = "lc:epoch"\n',
        'def k(self):\n    return f"{self.channel_prefix}:media:{{{w}}}"\n',
    ],
)
def test_the_key_checker_catches_keys(source: str) -> None:
    assert key_builders(Path("rooms/bus.py"), source), source


def test_the_key_checker_ignores_other_strings() -> None:
    source = (
        'a = f"the room is full ({capacity} of {capacity} seats taken)"\n'
        'b = f"{prefix}-{n}"\n'
        'c = "class: ok"\n'
        'd = f"{self.prefix}{path}"\n'
    )
    assert key_builders(Path("rooms/x.py"), source) == []


# -- No import cycle --------------------------------------------------------------------------


def import_graph(sources: dict[str, tuple[Path, str]]) -> dict[str, set[str]]:
    """Module → the project modules it imports (``sources``: module → (path, source)).

    An import names the longest project module it starts with (``from rooms.presence import
    PresenceEntry`` is an edge to ``rooms.presence``); a submodule's implicit import of its
    package's ``__init__`` is not counted (that is how Python packages work, not a choice)."""

    def resolve(name: str) -> str | None:
        parts = name.split(".")
        while parts:
            candidate = ".".join(parts)
            if candidate in sources:
                return candidate
            parts.pop()
        return None

    graph: dict[str, set[str]] = {module: set() for module in sources}
    for module, (path, source) in sources.items():
        for imp in imports_of(path, source):
            target = resolve(imp.module)
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components of more than one
    module (Tarjan's algorithm, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def project_sources() -> dict[str, tuple[Path, str]]:
    return {
        module_name(path): (path, read(path))
        for package in PACKAGES
        for path in source_files(package)
    }


def test_no_import_cycle() -> None:
    graph = import_graph(project_sources())
    assert len(graph) > 100
    assert "signaling.outbox" in graph["signaling.connection"]  # the graph sees real edges
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        # two modules importing each other, one only for type checking
        (
            {
                "signaling/a.py": "from signaling.b import B\n",
                "signaling/b.py": "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from signaling.a import A\n",
            },
            [["signaling.a", "signaling.b"]],
        ),
        # a longer loop through a package and a relative import
        (
            {
                "rooms/__init__.py": "",
                "rooms/a.py": "from rooms import b\n",
                "rooms/b.py": "from .c import C\n",
                "rooms/c.py": "def f():\n    import rooms.a\n",
            },
            [["rooms.a", "rooms.b", "rooms.c"]],
        ),
        # a chain is not a cycle; neither is a package's module importing a sibling
        (
            {
                "media/__init__.py": "from media.router import Router\n",
                "media/router.py": "from media.errors import MediaError\n",
                "media/errors.py": "from rooms.errors import BaseError\n",
            },
            [],
        ),
    ],
)
def test_the_cycle_checker(sources: dict[str, str], expected: list[list[str]]) -> None:
    parsed = {module_name(Path(p)): (Path(p), text) for p, text in sources.items()}
    assert cycles(import_graph(parsed)) == expected


# -- Small modules ----------------------------------------------------------------------------

MAX_LINES = 400
SIZED_PACKAGES = ["api", "signaling", "rooms", "media"]


def line_counts() -> dict[str, int]:
    return {
        str(path): len(read(path).splitlines())
        for package in SIZED_PACKAGES
        for path in source_files(package)
    }


def test_no_module_is_too_long() -> None:
    counts = line_counts()
    too_long = [
        f"{path}: {lines} lines" for path, lines in sorted(counts.items()) if lines > MAX_LINES
    ]
    assert too_long == [], f"modules over {MAX_LINES} lines (split them):\n" + "\n".join(too_long)


# -- A connection owns its seat ---------------------------------------------------------------

#: A connection's seat state: written by ``Connection.seat`` and ``Connection.regrant`` only.
SEAT_FIELDS = {"session_id", "entry", "grant", "logic", "resume_token", "sees_roster"}


def seat_writes(path: Path, source: str) -> list[str]:
    """Assignments in ``source`` to another object's seat fields (``conn.grant = ...``)."""
    found: list[str] = []
    for node in ast.walk(parse(source, str(path))):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (
                    isinstance(element, ast.Attribute)
                    and element.attr in SEAT_FIELDS
                    and not (isinstance(element.value, ast.Name) and element.value.id == "self")
                ):
                    found.append(f"{path}:{element.lineno} writes .{element.attr}")
    return found


def test_only_the_connection_writes_its_seat() -> None:
    found = [v for path in source_files("signaling") for v in seat_writes(path, read(path))]
    assert found == [], "seat state written from outside Connection:\n" + "\n".join(found)


def test_the_seat_checker_catches_writes() -> None:
    source = "conn.grant = g\nconn.entry, x = e, 1\nold.logic: Any = None\nself.grant = g\n"
    assert len(seat_writes(Path("signaling/hub.py"), source)) == 3
