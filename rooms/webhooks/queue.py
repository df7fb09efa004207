"""Claiming and settling webhook deliveries in the SQL store, safely from many nodes.

:meth:`DeliveryQueue.claim` takes a batch of due deliveries and leases them to this node for
``lease_seconds``:

- on PostgreSQL the select is ``FOR UPDATE OF webhook_deliveries SKIP LOCKED``, so two nodes
  claiming at once take disjoint rows without waiting for each other;
- on SQLite every transaction starts with ``BEGIN IMMEDIATE`` (``rooms.store.engine``), so
  claims are serialized by the database's single writer and see each other's leases.

A leased row is not claimable until its lease runs out, which only happens when its node died
or hung mid-attempt: then another node (or the restarted one) claims it again. Delivery is
therefore at least once; receivers deduplicate on the event id.

:meth:`DeliveryQueue.settle` records the attempt in the log and either marks the delivery
delivered, schedules the next attempt (backoff), or marks it dead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, func, insert, or_, select, update

from rooms.ids import new_id
from rooms.store import Database
from rooms.store.tables import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)
from rooms.webhooks.backoff import Backoff

__all__ = ["AttemptResult", "Claimed", "DeliveryQueue", "Outcome"]

Outcome = str  # "delivered" | "retry" | "dead" | "lost" (the lease went to another node)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to this node, with everything needed to send it."""

    delivery_id: str
    event_id: str
    event_type: str
    endpoint_id: str
    attempt: int  # the number of the attempt about to be made (1 for the first)
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True, slots=True)
class AttemptResult:
    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryQueue:
    def __init__(
        self,
        database: Database,
        *,
        node: str,
        lease_seconds: float = 60.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] | None = None,
    ) -> None:
        self._db = database
        self.node = node
        self._lease = timedelta(seconds=lease_seconds)
        self.backoff = backoff or Backoff()
        self._clock = clock
        # Its own generator: the jitter never touches (nor depends on) the global random state.
        self._rng = rng or random.Random().random

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def claim(self, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries of enabled endpoints to this node."""
        now = self.now()
        async with self._db.transaction() as tx:
            ids = list(
                (
                    await tx.execute(
                        select(WebhookDeliveryRow.id)
                        .join(
                            WebhookEndpointRow,
                            WebhookEndpointRow.id == WebhookDeliveryRow.endpoint_id,
                        )
                        .where(
                            WebhookDeliveryRow.status == "pending",
                            WebhookDeliveryRow.next_attempt_at <= now,
                            or_(
                                WebhookDeliveryRow.lease_until.is_(None),
                                WebhookDeliveryRow.lease_until <= now,
                            ),
                            WebhookEndpointRow.enabled.is_(True),
                        )
                        .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True, of=WebhookDeliveryRow)
                    )
                ).scalars()
            )
            if not ids:
                return []
            await tx.execute(
                update(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.id.in_(ids))
                .values(lease_owner=self.node, lease_until=now + self._lease)
                .execution_options(synchronize_session=False)
            )
            rows = await tx.execute(
                select(
                    WebhookDeliveryRow.id,
                    WebhookDeliveryRow.attempts,
                    WebhookDeliveryRow.endpoint_id,
                    WebhookEventRow.id,
                    WebhookEventRow.type,
                    WebhookEventRow.body,
                    WebhookEndpointRow.url,
                    WebhookEndpointRow.secret,
                )
                .join(WebhookEventRow, WebhookEventRow.id == WebhookDeliveryRow.event_id)
                .join(WebhookEndpointRow, WebhookEndpointRow.id == WebhookDeliveryRow.endpoint_id)
                .where(WebhookDeliveryRow.id.in_(ids))
                .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
            )
            return [
                Claimed(
                    delivery_id=did,
                    event_id=eid,
                    event_type=etype,
                    endpoint_id=endpoint_id,
                    attempt=attempts + 1,
                    url=url,
                    secret=secret,
                    body=body.encode(),
                )
                for did, attempts, endpoint_id, eid, etype, body, url, secret in rows
            ]

    async def release(self, claimed: Claimed) -> None:
        """Give a lease back unused (the node is stopping before it could send)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.id == claimed.delivery_id,
                    WebhookDeliveryRow.lease_owner == self.node,
                )
                .values(lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )

    async def settle(self, claimed: Claimed, result: AttemptResult) -> Outcome:
        """Log the attempt and move the delivery on: delivered, retry later, or dead."""
        now = self.now()
        values: dict[str, object] = {
            "attempts": claimed.attempt,
            "last_status_code": result.status_code,
            "last_error": result.error,
            "last_attempt_at": result.started_at,
            "lease_owner": None,
            "lease_until": None,
        }
        if result.ok:
            outcome = "delivered"
            values.update(status="delivered", delivered_at=now)
        else:
            delay = self.backoff.delay(claimed.attempt, self._rng)
            if delay is None:
                outcome = "dead"
                values.update(status="dead")
            else:
                outcome = "retry"
                values.update(next_attempt_at=now + timedelta(seconds=delay))
        async with self._db.transaction() as tx:
            settled = await tx.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.id == claimed.delivery_id,
                    WebhookDeliveryRow.lease_owner == self.node,
                    WebhookDeliveryRow.status == "pending",
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            mine = settled.rowcount == 1  # type: ignore[attr-defined]
            # The delivery is gone when its endpoint was deleted mid-attempt: nothing to log.
            if mine or await tx.scalar(
                select(WebhookDeliveryRow.id)
                .where(WebhookDeliveryRow.id == claimed.delivery_id)
                .with_for_update()
            ):
                await tx.execute(
                    insert(WebhookAttemptRow).values(
                        id=new_id(),
                        delivery_id=claimed.delivery_id,
                        attempt=claimed.attempt,
                        node=self.node,
                        started_at=result.started_at,
                        duration_ms=round(result.duration_ms, 3),
                        status_code=result.status_code,
                        error=result.error,
                        response_excerpt=result.response_excerpt,
                    )
                )
            if not mine:
                # Our lease ran out and another node took the delivery over (it decides), or
                # the delivery was deleted with its endpoint.
                return "lost"
        return outcome

    async def prune(self, older_than: datetime) -> int:
        """Delete events created before ``older_than`` whose deliveries are all finished
        (delivered or dead), with their deliveries and attempt logs; returns how many."""
        unfinished = exists().where(
            WebhookDeliveryRow.event_id == WebhookEventRow.id,
            WebhookDeliveryRow.status == "pending",
        )
        async with self._db.transaction() as tx:
            doomed = select(WebhookEventRow.id).where(
                WebhookEventRow.created_at < older_than, ~unfinished
            )
            ids = list((await tx.execute(doomed.limit(1000))).scalars())
            if not ids:
                return 0
            # Children first: SQLite only cascades with foreign keys on, and this is explicit.
            deliveries = select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.event_id.in_(ids))
            await tx.execute(
                delete(WebhookAttemptRow).where(WebhookAttemptRow.delivery_id.in_(deliveries))
            )
            await tx.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.event_id.in_(ids)))
            await tx.execute(delete(WebhookEventRow).where(WebhookEventRow.id.in_(ids)))
        return len(ids)

    async def pending_count(self) -> int:
        """Deliveries not yet delivered nor dead (the outbox depth)."""
        async with self._db.transaction() as tx:
            count = await tx.scalar(
                select(func.count())
                .select_from(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.status == "pending")
            )
        return int(count or 0)
