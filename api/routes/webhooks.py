"""Webhooks: endpoint configuration and the delivery log (tenant admins only).

See ``rooms/webhooks`` for the events, the signature scheme and the retry schedule.
"""

from __future__ import annotations

from starlette.responses import Response

from api.endpoint import Api, Call
from api.responses import JSONResponse
from api.webhook_schemas import (
    DeliveryDetailOut,
    DeliveryList,
    DeliveryOut,
    DeliveryQuery,
    EndpointCreatedOut,
    EndpointList,
    EndpointOut,
    EventTypesOut,
    delivery_detail_out,
    delivery_out,
    endpoint_created_out,
    endpoint_out,
)
from rooms.webhooks.admin import DeliveryFilter
from rooms.webhooks.events import EventType
from rooms.webhooks.inputs import EndpointDraft, EndpointPatch

api = Api("/api/v1")
TAGS = ["webhooks"]
ADMIN_ERRORS = (403, 404)


@api.route(
    "GET",
    "/webhooks/event-types",
    summary="The webhook event types",
    tags=TAGS,
    response=EventTypesOut,
)
async def event_types(call: Call) -> EventTypesOut:
    """Every event type an endpoint can subscribe to."""
    return EventTypesOut(eventTypes=[t.value for t in EventType])


@api.route(
    "POST",
    "/webhooks/endpoints",
    summary="Add a webhook endpoint",
    tags=TAGS,
    status=201,
    response=EndpointCreatedOut,
    body=EndpointDraft,
    errors=(403,),
)
async def create_endpoint(call: Call) -> EndpointCreatedOut:
    """Tenant admin. ``url`` must be http(s); ``eventTypes`` empty subscribes to all. The
    answer is the only one that shows the signing ``secret``."""
    body: EndpointDraft = call.body
    row = await call.services.webhooks.create(call.user, body)
    return endpoint_created_out(row)


@api.route(
    "GET",
    "/webhooks/endpoints",
    summary="List the tenant's webhook endpoints",
    tags=TAGS,
    response=EndpointList,
    errors=(403,),
)
async def list_endpoints(call: Call) -> EndpointList:
    """Tenant admin. Secrets are not shown (only their last four characters)."""
    rows = await call.services.webhooks.endpoints(call.user)
    return EndpointList(endpoints=[endpoint_out(r) for r in rows])


@api.route(
    "GET",
    "/webhooks/endpoints/{endpoint_id}",
    summary="A webhook endpoint",
    tags=TAGS,
    response=EndpointOut,
    errors=ADMIN_ERRORS,
)
async def get_endpoint(call: Call) -> EndpointOut:
    """Tenant admin."""
    return endpoint_out(await call.services.webhooks.get(call.user, call.path("endpoint_id")))


@api.route(
    "PATCH",
    "/webhooks/endpoints/{endpoint_id}",
    summary="Change a webhook endpoint",
    tags=TAGS,
    response=EndpointOut,
    body=EndpointPatch,
    errors=ADMIN_ERRORS,
)
async def update_endpoint(call: Call) -> EndpointOut:
    """Tenant admin: url, eventTypes, enabled, description. A disabled endpoint keeps its
    pending deliveries and sends them when enabled again."""
    body: EndpointPatch = call.body
    row = await call.services.webhooks.update(call.user, call.path("endpoint_id"), body)
    return endpoint_out(row)


@api.route(
    "DELETE",
    "/webhooks/endpoints/{endpoint_id}",
    summary="Delete a webhook endpoint",
    tags=TAGS,
    status=204,
    errors=ADMIN_ERRORS,
)
async def delete_endpoint(call: Call) -> Response:
    """Tenant admin. Its pending deliveries and its delivery log go with it."""
    await call.services.webhooks.delete(call.user, call.path("endpoint_id"))
    return Response(status_code=204)


@api.route(
    "POST",
    "/webhooks/endpoints/{endpoint_id}/rotate-secret",
    summary="Rotate a webhook endpoint's secret",
    tags=TAGS,
    response=EndpointCreatedOut,
    errors=ADMIN_ERRORS,
)
async def rotate_secret(call: Call) -> EndpointCreatedOut:
    """Tenant admin. The new secret (shown only now) signs every attempt from now on,
    retries of older events included."""
    row = await call.services.webhooks.rotate_secret(call.user, call.path("endpoint_id"))
    return endpoint_created_out(row)


@api.route(
    "GET",
    "/webhooks/deliveries",
    summary="The webhook delivery log",
    tags=TAGS,
    response=DeliveryList,
    query=DeliveryQuery,
    errors=(403,),
)
async def list_deliveries(call: Call) -> DeliveryList:
    """Tenant admin. Newest first; filter by ``endpointId``, ``status`` (pending, delivered,
    dead) and ``eventType``."""
    query: DeliveryQuery = call.query
    rows, total = await call.services.webhooks.deliveries(
        call.user,
        DeliveryFilter(
            endpoint_id=query.endpointId,
            status=query.status,
            event_type=query.eventType,
            limit=query.limit,
            offset=query.offset,
        ),
    )
    return DeliveryList(
        deliveries=[delivery_out(r) for r in rows],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


@api.route(
    "GET",
    "/webhooks/deliveries/{delivery_id}",
    summary="A webhook delivery with its attempts",
    tags=TAGS,
    response=DeliveryDetailOut,
    errors=ADMIN_ERRORS,
)
async def get_delivery(call: Call) -> DeliveryDetailOut:
    """Tenant admin. The event as sent and every attempt: status code, error, duration and
    the start of the receiver's answer."""
    detail = await call.services.webhooks.delivery(call.user, call.path("delivery_id"))
    return delivery_detail_out(detail.delivery, detail.event, detail.attempts)


@api.route(
    "POST",
    "/webhooks/deliveries/{delivery_id}/redeliver",
    summary="Send a webhook delivery again",
    tags=TAGS,
    status=202,
    response=DeliveryOut,
    errors=ADMIN_ERRORS,
)
async def redeliver(call: Call) -> Response:
    """Tenant admin. One more attempt as soon as possible, with the same event id and body
    (a dead delivery that fails again is dead again)."""
    row = await call.services.webhooks.redeliver(call.user, call.path("delivery_id"))
    call.services.wake_webhooks()
    return JSONResponse(delivery_out(row).model_dump(mode="json"), status_code=202)
