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
