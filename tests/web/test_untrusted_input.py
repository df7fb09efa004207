"""The pages' JavaScript against hostile input, in real Chromium (Debian's, as every browser
test), without a server: the pages and scripts are served from ``api/web/static`` by a
Playwright route on a made-up origin, and any request that leaves it is recorded and
refused.

- Signing in never leads to another origin, whatever ``next`` says (``/%5Chost``,
  ``/%09/host``, ``//host``, ...): end to end through the sign-in page, and as a property
  of ``sameOriginPath`` over generated strings.
- Links from the server's data (a recording's URL) are put in the page only when http(s).
- The MessagePack decoder makes ``__proto__`` an own property (as ``JSON.parse`` does)
  instead of replacing the object's prototype: a property over generated maps.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, Route, sync_playwright

from tests.web.browser import ARGS, CHROMIUM, WAIT_MS

ORIGIN = "http://liveclass.test"
STATIC = Path(__file__).parents[2] / "api" / "web" / "static"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
LIVECLASS = "import('/static/liveclass.js')"
COMMON = "import('/static/common.js')"


@contextmanager
def hermetic_page() -> Iterator[tuple[Page, list[str]]]:
    """A page on :data:`ORIGIN` and the list of URLs it tried to reach elsewhere."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-browser.sh (Debian's chromium)")
    elsewhere: list[str] = []

    def serve(route: Route) -> None:
        url = urlsplit(route.request.url)
        if f"{url.scheme}://{url.netloc}" != ORIGIN:
            elsewhere.append(route.request.url)
            route.abort()
            return
        if url.path == "/web-config.json":
            config = {"environment": "development", "devSignin": False, "apiBase": "/api/v1"}
            route.fulfill(json=config)
        elif url.path.startswith("/api/"):
            route.fulfill(json={"bookings": []})
        else:
            name = url.path.removeprefix("/static/").lstrip("/")
            file = STATIC / name
            if name and file.is_file() and file.resolve().is_relative_to(STATIC.resolve()):
                route.fulfill(body=file.read_bytes(), content_type=TYPES.get(file.suffix))
            else:
                route.fulfill(body=f"<title>{url.path}</title>", content_type="text/html")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=WAIT_MS)
        try:
            page = browser.new_page()
            page.set_default_timeout(WAIT_MS)
            page.route("**/*", serve)
            page.goto(f"{ORIGIN}/signin.html")
            yield page, elsewhere
        finally:
            browser.close()


def _token() -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"sub": "s1", "name": "Sam", "role": "student", "tenant": "acme"}
    return f"{part({'alg': 'HS256'})}.{part(claims)}.c2ln"


HOSTILE_NEXT = [
    "/%5Cevil.example/phish",
    "/%09/evil.example",
    "//evil.example/phish",
    "/\\evil.example",
    "/%0A/evil.example",
    "/%0D%0A/evil.example",
    "/\\/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    " /evil",
]


def test_signing_in_never_leaves_the_site() -> None:
    with hermetic_page() as (page, elsewhere):
        for raw in HOSTILE_NEXT:
            # As a link would carry it: percent-escapes stay escapes, the rest is quoted.
            page.goto(f"{ORIGIN}/signin.html?next={quote(raw, safe='%/')}")
            page.fill("#token", _token())
            page.click("#token-form button[type=submit]")
            page.wait_for_url(lambda url: "signin" not in url)
            assert page.url.startswith(f"{ORIGIN}/"), (raw, page.url)
        # A path of the site is kept, query included.
        page.goto(f"{ORIGIN}/signin.html?next={quote('/classroom.html?session=s1')}")
        page.fill("#token", _token())
        page.click("#token-form button[type=submit]")
        page.wait_for_url(lambda url: "signin" not in url)
        assert page.url == f"{ORIGIN}/classroom.html?session=s1"
    assert elsewhere == []


nexts = st.one_of(
    st.text(max_size=30),
    st.tuples(
        st.sampled_from(["/", "//", "/\\", "\\", "/\t/", "/\n/", "/\r\n/", " /", "/%5C", "/.."]),
        st.sampled_from(["", "evil.example", "evil.example/p", "@evil.example", ":80"]),
        st.text(max_size=10),
    ).map("".join),
)


def test_same_origin_path_only_ever_gives_paths_of_the_site() -> None:
    with hermetic_page() as (page, elsewhere):
        checked = {"n": 0}

        @settings(max_examples=300, deadline=None, database=None)
        @given(nexts)
        def property_(next_: str) -> None:
            result, origin = page.evaluate(
                f"""async ([next, origin]) => {{
                    const path = (await {COMMON}).sameOriginPath(next, origin);
                    return [path, new URL(path, origin).origin];
                }}""",
                [next_, ORIGIN],
            )
            checked["n"] += 1
            assert result.startswith("/"), (next_, result)
            assert origin == ORIGIN, (next_, result)
            if re.fullmatch(r"/[A-Za-z0-9_~-][A-Za-z0-9._~/-]*", next_) and "/." not in next_:
                assert result == next_  # an ordinary path of the site is kept as it is

        property_()
        print(f"sameOriginPath: {checked['n']} generated values")
    assert elsewhere == []


def test_links_from_server_data_are_only_ever_http() -> None:
    """A recording's link goes into an ``<a href>``: only http(s) URLs may."""
    urls = [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "s3://bucket/key.mp4",
        "https://cdn.example.com/a.mp4",
        "/api/v1/recordings/r1/file?expires=1&signature=x",
        None,
    ]
    with hermetic_page() as (page, _):
        got = page.evaluate(
            f"""async (urls) => {{
                const common = await {COMMON};
                return urls.map((u) => common.httpUrl(u));
            }}""",
            urls,
        )
    assert got == [None] * 6 + [
        "https://cdn.example.com/a.mp4",
        f"{ORIGIN}/api/v1/recordings/r1/file?expires=1&signature=x",
        None,
    ]


KEYS = st.sampled_from(
    ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "type"]
) | st.text(max_size=6)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=10,
)


def test_msgpack_maps_never_set_a_prototype() -> None:
    """Decoded maps equal what JSON.parse makes of the same value: every key an own
    property, every object's prototype Object.prototype, nothing polluted."""
    with hermetic_page() as (page, _):
        checked = {"n": 0}

        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(st.dictionaries(KEYS, values, max_size=5))
        def property_(value: dict[str, Any]) -> None:
            out = page.evaluate(
                f"""async (bytes) => {{
                    const decoded = (await {LIVECLASS}).msgpackDecode(new Uint8Array(bytes));
                    const plain = (o) => o === null || typeof o !== "object" || (
                        Array.isArray(o) ? o.every(plain)
                        : Object.getPrototypeOf(o) === Object.prototype
                          && Object.values(o).every(plain));
                    return [JSON.stringify(decoded), plain(decoded), ({{}}).type === undefined];
                }}""",
                list(msgpack.packb(value)),
            )
            checked["n"] += 1
            text, plain, unpolluted = out
            assert json.loads(text) == value
            assert plain, value
            assert unpolluted

        property_()
        print(f"msgpackDecode: {checked['n']} generated maps")
