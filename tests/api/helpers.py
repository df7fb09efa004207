"""Small helpers shared by the API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from api.app import create_app
from api.settings import Settings
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
