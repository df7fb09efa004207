"""Bodies of the webhook API (``/api/v1/webhooks``); request bodies are in
``rooms.webhooks.inputs``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rooms.store.tables import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)
from rooms.webhooks.events import EventType

__all__ = [
    "AttemptOut",
    "DeliveryDetailOut",
    "DeliveryList",
    "DeliveryOut",
    "DeliveryQuery",
    "EndpointCreatedOut",
    "EndpointList",
    "EndpointOut",
    "EventTypesOut",
    "attempt_out",
    "delivery_detail_out",
    "delivery_out",
    "endpoint_created_out",
    "endpoint_out",
]

DeliveryStatus = Literal["pending", "delivered", "dead"]


class _Out(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)


class EndpointOut(_Out):
    id: str
    url: str
    eventTypes: list[str] = Field(description="Subscribed event types; empty: all of them.")
    enabled: bool
    description: str | None
    secretHint: str = Field(description="The secret's last four characters.")
    createdBy: str
    createdAt: datetime
    updatedAt: datetime


class EndpointCreatedOut(EndpointOut):
    secret: str = Field(
        description="The signing secret. Shown only now (and on rotation): store it."
    )


class EndpointList(_Out):
    endpoints: list[EndpointOut]


class DeliveryOut(_Out):
    id: str
    eventId: str
    eventType: str
    endpointId: str
    status: DeliveryStatus
    attempts: int
    nextAttemptAt: datetime | None = Field(description="When pending: the next attempt.")
    lastStatusCode: int | None
    lastError: str | None
    lastAttemptAt: datetime | None
    deliveredAt: datetime | None
    createdAt: datetime


class DeliveryList(_Out):
    deliveries: list[DeliveryOut]
    total: int
    limit: int
    offset: int


class AttemptOut(_Out):
    attempt: int
    node: str
    startedAt: datetime
    durationMs: float
    statusCode: int | None
    error: str | None
    responseExcerpt: str | None = Field(description="The first KiB of the receiver's answer.")


class DeliveryDetailOut(DeliveryOut):
    payload: dict[str, Any] = Field(description="The event body, exactly as sent.")
    attemptLog: list[AttemptOut]


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    endpointId: str | None = Field(default=None, max_length=64)
    status: DeliveryStatus | None = None
    eventType: EventType | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class EventTypesOut(_Out):
    eventTypes: list[str]


def endpoint_out(row: WebhookEndpointRow) -> EndpointOut:
    return EndpointOut(
        id=row.id,
        url=row.url,
        eventTypes=list(row.event_types or []),
        enabled=row.enabled,
        description=row.description,
        secretHint=row.secret[-4:],
        createdBy=row.created_by,
        createdAt=row.created_at,
        updatedAt=row.updated_at,
    )


def endpoint_created_out(row: WebhookEndpointRow) -> EndpointCreatedOut:
    return EndpointCreatedOut(**endpoint_out(row).model_dump(), secret=row.secret)


def delivery_out(row: WebhookDeliveryRow) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        eventId=row.event_id,
        eventType=row.event_type,
        endpointId=row.endpoint_id,
        status=row.status,
        attempts=row.attempts,
        nextAttemptAt=row.next_attempt_at if row.status == "pending" else None,
        lastStatusCode=row.last_status_code,
        lastError=row.last_error,
        lastAttemptAt=row.last_attempt_at,
        deliveredAt=row.delivered_at,
        createdAt=row.created_at,
    )


def attempt_out(row: WebhookAttemptRow) -> AttemptOut:
    return AttemptOut(
        attempt=row.attempt,
        node=row.node,
        startedAt=row.started_at,
        durationMs=row.duration_ms,
        statusCode=row.status_code,
        error=row.error,
        responseExcerpt=row.response_excerpt,
    )


def delivery_detail_out(
    row: WebhookDeliveryRow, event: WebhookEventRow, attempts: list[WebhookAttemptRow]
) -> DeliveryDetailOut:
    return DeliveryDetailOut(
        **delivery_out(row).model_dump(),
        payload=json.loads(event.body),
        attemptLog=[attempt_out(a) for a in attempts],
    )
