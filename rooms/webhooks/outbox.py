"""The outbox: webhook events written in the same transaction as the change they report.

State-changing code calls :func:`enqueue` with its open transaction. The event row and one
delivery row per subscribed endpoint commit (or roll back) together with the change, so an
event is never lost when the process dies after the commit, and never sent for a change that
did not happen. The dispatcher (:mod:`rooms.webhooks.dispatcher`) delivers them later, from
any node.

When the tenant has no enabled endpoint subscribed to the event type nothing is written: events
are recorded for the endpoints that exist when they happen.

After a commit that enqueued something, the callbacks registered with :func:`on_enqueue` for
that database run (the dispatcher of this process wakes at once instead of at its next poll).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from rooms.ids import new_id
from rooms.store import Database
from rooms.store.tables import (
    RecordingRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)
from rooms.store.types import utcnow
from rooms.webhooks.events import EventType, iso, recording_data

__all__ = ["enqueue", "on_enqueue", "recording_changed", "subscribes"]

_WAKERS: weakref.WeakKeyDictionary[Engine, list[Callable[[], None]]] = weakref.WeakKeyDictionary()
_ENDPOINTS_KEY = "liveclass.webhooks.endpoints"
_WAKE_KEY = "liveclass.webhooks.wake"


def on_enqueue(database: Database, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after every commit that enqueued events on ``database``; returns a
    function that unregisters it."""
    callbacks = _WAKERS.setdefault(database.engine.sync_engine, [])
    callbacks.append(callback)

    def unregister() -> None:
        if callback in callbacks:
            callbacks.remove(callback)

    return unregister


def subscribes(event_types: list[str], event_type: str) -> bool:
    """Whether an endpoint with filter ``event_types`` (empty: all) wants ``event_type``."""
    return not event_types or event_type in event_types


async def _endpoints(tx: AsyncSession, tenant_id: str) -> list[tuple[str, list[str]]]:
    # Read once per transaction and tenant: a session end enqueues one event per participant.
    cache: dict[str, list[tuple[str, list[str]]]] = tx.info.setdefault(_ENDPOINTS_KEY, {})
    if tenant_id not in cache:
        rows = await tx.execute(
            select(WebhookEndpointRow.id, WebhookEndpointRow.event_types).where(
                WebhookEndpointRow.tenant_id == tenant_id, WebhookEndpointRow.enabled.is_(True)
            )
        )
        cache[tenant_id] = [(eid, list(types or [])) for eid, types in rows]
    return cache[tenant_id]


async def enqueue(
    tx: AsyncSession, tenant_id: str, event_type: EventType, data: dict[str, Any]
) -> str | None:
    """Write event ``event_type`` with ``data`` into the outbox inside ``tx``.

    Returns the event id, or None when no endpoint of the tenant wants it. ``data`` must be
    JSON-serializable (see :mod:`rooms.webhooks.events` for the builders)."""
    endpoints = await _endpoints(tx, tenant_id)
    targets = [eid for eid, types in endpoints if subscribes(types, event_type)]
    if not targets:
        return None
    event_id = new_id()
    now = utcnow()
    body = json.dumps(
        {
            "id": event_id,
            "type": event_type.value,
            "createdAt": iso(now),
            "tenant": tenant_id,
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    # Core inserts in dependency order (the event before its deliveries).
    await tx.execute(
        insert(WebhookEventRow).values(
            id=event_id, tenant_id=tenant_id, type=event_type.value, body=body, created_at=now
        )
    )
    await tx.execute(
        insert(WebhookDeliveryRow),
        [
            {
                "id": new_id(),
                "event_id": event_id,
                "endpoint_id": endpoint_id,
                "tenant_id": tenant_id,
                "event_type": event_type.value,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in targets
        ],
    )
    _wake_after_commit(tx)
    return event_id


def _wake_after_commit(tx: AsyncSession) -> None:
    if tx.info.get(_WAKE_KEY):
        return
    tx.info[_WAKE_KEY] = True
    bind = tx.sync_session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine

    def wake(_session: Session) -> None:
        for callback in list(_WAKERS.get(engine, ())):
            callback()

    event.listen(tx.sync_session, "after_commit", wake, once=True)


_RECORDING_EVENTS = {
    "recording": EventType.RECORDING_STARTED,
    "ready": EventType.RECORDING_READY,
    "failed": EventType.RECORDING_FAILED,
}


async def recording_changed(tx: AsyncSession, recording: RecordingRow) -> str | None:
    """The hook for every recording status transition: call it inside the transaction that
    writes ``recording`` with its new status. ``recording`` → recording.started, ``ready`` →
    recording.ready, ``failed`` → recording.failed (``processing`` emits nothing)."""
    event_type = _RECORDING_EVENTS.get(recording.status)
    if event_type is None:
        return None
    return await enqueue(tx, recording.tenant_id, event_type, recording_data(recording))
