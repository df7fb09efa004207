"""A backing service that does not answer is a 503 in the JSON error shape, never a 500."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from api.settings import Settings
from tests.api.helpers import error_of, own_client
from tests.conftest import FakeClock, People


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("backend", ["services"], indirect=True)
async def test_postgres_down_is_503_and_readyz_is_red(
    settings_factory: Callable[..., Settings], clock: FakeClock, people: People
) -> None:
    settings = settings_factory(
        database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/test"
    )
    async with own_client(settings, clock) as client:
        response = await client.get("/api/v1/sessions", headers=people.teacher)
        error = error_of(response)
        assert response.status_code == 503
        assert error["code"] == "unavailable"
        assert response.headers["retry-after"] == "5"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "unavailable"
        assert ready.json()["checks"]["redis"] == "ok"
