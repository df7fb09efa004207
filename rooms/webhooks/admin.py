"""Webhook configuration and the delivery log, for tenant admins.

Every operation is confined to the caller's tenant (another tenant's endpoint or delivery is a
NotFound) and refused to anyone but a tenant admin (Forbidden, code ``admin_only``). An
endpoint's secret is returned only by :meth:`WebhookAdmin.create` and
:meth:`WebhookAdmin.rotate_secret`; it signs every delivery from then on, retries included.
Deleting an endpoint deletes its deliveries and their log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.errors import Forbidden, NotFound
from rooms.identity import Principal
from rooms.ids import is_uuid, new_id
from rooms.store import Database
from rooms.store.tables import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)
from rooms.store.types import utcnow
from rooms.webhooks.events import EventType
from rooms.webhooks.inputs import EndpointDraft, EndpointPatch
from rooms.webhooks.signing import new_secret

__all__ = ["DeliveryDetail", "DeliveryFilter", "WebhookAdmin"]

MAX_ENDPOINTS_PER_TENANT = 20


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    endpoint_id: str | None = None
    status: str | None = None
    event_type: EventType | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    delivery: WebhookDeliveryRow
    event: WebhookEventRow
    attempts: list[WebhookAttemptRow]


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only tenant admins manage webhooks", code="admin_only")


class WebhookAdmin:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def _endpoint(
        self, tx: AsyncSession, principal: Principal, endpoint_id: str
    ) -> WebhookEndpointRow:
        row = await tx.get(WebhookEndpointRow, endpoint_id) if is_uuid(endpoint_id) else None
        if row is None or row.tenant_id != principal.tenant:
            raise NotFound("webhook endpoint not found", code="webhook_endpoint_not_found")
        return row

    async def create(self, principal: Principal, draft: EndpointDraft) -> WebhookEndpointRow:
        _require_admin(principal)
        now = utcnow()
        row = WebhookEndpointRow(
            id=new_id(),
            tenant_id=principal.tenant,
            url=draft.url,
            secret=new_secret(),
            event_types=[t.value for t in draft.eventTypes],
            enabled=draft.enabled,
            description=draft.description,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        async with self._db.transaction() as tx:
            count = await tx.scalar(
                select(func.count())
                .select_from(WebhookEndpointRow)
                .where(WebhookEndpointRow.tenant_id == principal.tenant)
            )
            if int(count or 0) >= MAX_ENDPOINTS_PER_TENANT:
                raise Forbidden(
                    f"a tenant has at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints",
                    code="too_many_endpoints",
                )
            tx.add(row)
        return row

    async def endpoints(self, principal: Principal) -> list[WebhookEndpointRow]:
        _require_admin(principal)
        async with self._db.transaction() as tx:
            rows = await tx.execute(
                select(WebhookEndpointRow)
                .where(WebhookEndpointRow.tenant_id == principal.tenant)
                .order_by(WebhookEndpointRow.created_at, WebhookEndpointRow.id)
            )
            return list(rows.scalars())

    async def get(self, principal: Principal, endpoint_id: str) -> WebhookEndpointRow:
        _require_admin(principal)
        async with self._db.transaction() as tx:
            return await self._endpoint(tx, principal, endpoint_id)

    async def update(
        self, principal: Principal, endpoint_id: str, patch: EndpointPatch
    ) -> WebhookEndpointRow:
        _require_admin(principal)
        changes = patch.model_dump(exclude_unset=True)
        async with self._db.transaction() as tx:
            row = await self._endpoint(tx, principal, endpoint_id)
            if changes.get("url") is not None:
                row.url = changes["url"]
            if patch.eventTypes is not None:
                row.event_types = [t.value for t in patch.eventTypes]
            if patch.enabled is not None:
                row.enabled = patch.enabled
            if "description" in changes:
                row.description = patch.description
            row.updated_at = utcnow()
        return row

    async def rotate_secret(self, principal: Principal, endpoint_id: str) -> WebhookEndpointRow:
        """A new secret, effective for every attempt made from now on."""
        _require_admin(principal)
        async with self._db.transaction() as tx:
            row = await self._endpoint(tx, principal, endpoint_id)
            row.secret = new_secret()
            row.updated_at = utcnow()
        return row

    async def delete(self, principal: Principal, endpoint_id: str) -> None:
        _require_admin(principal)
        async with self._db.transaction() as tx:
            row = await self._endpoint(tx, principal, endpoint_id)
            await tx.execute(delete(WebhookEndpointRow).where(WebhookEndpointRow.id == row.id))

    async def deliveries(
        self, principal: Principal, flt: DeliveryFilter
    ) -> tuple[list[WebhookDeliveryRow], int]:
        """The tenant's deliveries, newest first, with the total matching ``flt``."""
        _require_admin(principal)
        where = [WebhookDeliveryRow.tenant_id == principal.tenant]
        if flt.endpoint_id is not None:
            where.append(WebhookDeliveryRow.endpoint_id == flt.endpoint_id)
        if flt.status is not None:
            where.append(WebhookDeliveryRow.status == flt.status)
        if flt.event_type is not None:
            where.append(WebhookDeliveryRow.event_type == flt.event_type.value)
        async with self._db.transaction() as tx:
            total = await tx.scalar(
                select(func.count()).select_from(WebhookDeliveryRow).where(*where)
            )
            rows = await tx.execute(
                select(WebhookDeliveryRow)
                .where(*where)
                .order_by(WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.id)
                .limit(flt.limit)
                .offset(flt.offset)
            )
            return list(rows.scalars()), int(total or 0)

    async def delivery(self, principal: Principal, delivery_id: str) -> DeliveryDetail:
        """One delivery with its event and every attempt, oldest first."""
        _require_admin(principal)
        async with self._db.transaction() as tx:
            row = await tx.get(WebhookDeliveryRow, delivery_id) if is_uuid(delivery_id) else None
            if row is None or row.tenant_id != principal.tenant:
                raise NotFound("webhook delivery not found", code="webhook_delivery_not_found")
            event = await tx.get(WebhookEventRow, row.event_id)
            assert event is not None  # foreign key
            attempts = await tx.execute(
                select(WebhookAttemptRow)
                .where(WebhookAttemptRow.delivery_id == row.id)
                .order_by(WebhookAttemptRow.attempt, WebhookAttemptRow.started_at)
            )
            return DeliveryDetail(row, event, list(attempts.scalars()))

    async def redeliver(self, principal: Principal, delivery_id: str) -> WebhookDeliveryRow:
        """Send a delivery again (same event id and body), as soon as possible."""
        _require_admin(principal)
        async with self._db.transaction() as tx:
            row = await tx.get(WebhookDeliveryRow, delivery_id) if is_uuid(delivery_id) else None
            if row is None or row.tenant_id != principal.tenant:
                raise NotFound("webhook delivery not found", code="webhook_delivery_not_found")
            # One more attempt (a dead delivery that fails again is dead again). A pending
            # delivery keeps its lease: it may be in flight right now.
            if row.status != "pending":
                row.status = "pending"
                row.lease_owner = None
                row.lease_until = None
            row.next_attempt_at = utcnow()
        return row
