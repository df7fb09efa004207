"""Webhook tests: the app with fast retries, a real receiver on a loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from api.services import Services
from api.settings import Settings
from tests.conftest import bearer
from tests.webhooks.receiver import Receiver, serve_receiver

ADMIN = bearer("admin-1", "admin", name="Ada Admin")

FAST_RETRIES: dict[str, Any] = {
    "webhook_retry_base_seconds": 0.02,
    "webhook_retry_max_seconds": 0.1,
    "webhook_poll_interval_seconds": 0.05,
    "webhook_max_attempts": 4,
    "webhook_timeout_seconds": 5,
    "webhook_lease_seconds": 30,
}


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(**FAST_RETRIES)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as r:
        yield r


async def settled(services: Services, count: int) -> None:
    """Until the app's dispatcher has recorded ``count`` attempts."""
    assert services.webhook_dispatcher is not None
    async with asyncio.timeout(60):
        await services.webhook_dispatcher.wait_settled(count)


async def add_endpoint(
    client: httpx.AsyncClient, receiver: Receiver, **fields: Any
) -> dict[str, Any]:
    """Register ``receiver`` as an endpoint of tenant acme; it learns the secret."""
    response = await client.post(
        "/api/v1/webhooks/endpoints", json={"url": receiver.url, **fields}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    receiver.secret = endpoint["secret"]
    return endpoint
