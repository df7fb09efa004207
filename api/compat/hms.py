"""Seed 001, the 100ms yoga app: ``/api/live/sessions``.

Translation onto the one domain:

- a live session is a liveclass session with the same rich fields (``sessionType``,
  ``scheduledStartTime``/``EndTime``, ``maxParticipants``, ``price``/``currency``,
  ``thumbnail``, ``metadata``, ``featured``); ``expertId``/``expertName`` are its
  instructor's, ``currentViewers`` the people in the room now. Experts (``expert``: instructor
  in the default role map) create, start and end; students enroll and get join tokens.
- start opens the room: ``roomId`` is the session id (the room on ``/ws``), ``roomCode`` its
  room name, ``sessionUrl`` the classroom page. ``join-token`` is a liveclass room token
  (``host`` for the expert, ``guest`` for enrolled students; tenant admins get
  ``observer``). ``end``'s ``duration`` is in minutes.
- enrollment is liveclass's (duplicate-safe, seat-capped; paid sessions need ``paymentId``);
  ``participantId`` is the enrollment's id.
- every answer is ``{"success": true, "data": ..., "message"?}``; every error
  ``{"success": false, "error": "..."}`` with 400/401/403/404 as documented (liveclass's
  402 and 409 are 400 here: the document has no other status for a refused request).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api import actions
from api.compat._base import SeedApi, SeedCall, iso, json_response, public_base
from rooms.errors import Conflict, PaymentRequired
from rooms.inputs import EnrollmentRequest, SessionDraft
from rooms.model import SessionStatus
from rooms.session_reads import SessionFilter, SessionView

__all__ = ["api"]


def render_error(status: int, message: str, code: str) -> Response:
    return json_response({"success": False, "error": message}, status)


api = SeedApi(render_error, statuses={Conflict: 400, PaymentRequired: 400})

PREFIX = "/api/live/sessions"


class _ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: SessionStatus | None = None
    expertId: str | None = Field(default=None, min_length=1, max_length=128)
    featured: bool | None = None
    limit: int = Field(default=20, ge=1, le=100)
    skip: int = Field(default=0, ge=0)


def ok(data: Any, message: str | None = None, status: int = 200) -> Response:
    body: dict[str, Any] = {"success": True, "data": data}
    if message is not None:
        body["message"] = message
    return json_response(body, status)


def live_session(view: SessionView) -> dict[str, Any]:
    row = view.row
    return {
        "id": row.id,
        "expertId": row.instructor_id,
        "expertName": row.instructor_name,
        "expertAvatar": row.instructor_avatar,
        "title": row.title,
        "description": row.description,
        "thumbnail": row.thumbnail,
        "sessionType": row.session_type,
        "scheduledStartTime": iso(row.scheduled_start),
        "scheduledEndTime": iso(row.scheduled_end),
        "actualStartTime": iso(row.started_at),
        "actualEndTime": iso(row.ended_at),
        "maxParticipants": row.max_participants,
        "currentViewers": view.active_count,
        "price": float(row.price),
        "currency": row.currency,
        "status": row.status,
        "hmsDetails": {"roomId": row.id, "roomCode": row.room_name}
        if row.started_at is not None
        else None,
        "recordingAvailable": row.recording_url is not None,
        "enrolledCount": row.enrolled_count,
        "attendedCount": view.attended_count,
        "metadata": row.meta or {},
        "featured": row.featured,
        "isFree": row.price == Decimal(0),
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


_CREATE_FIELDS = {
    "title": "title",
    "description": "description",
    "sessionType": "sessionType",
    "scheduledStartTime": "scheduledStart",
    "scheduledEndTime": "scheduledEnd",
    "maxParticipants": "maxParticipants",
    "price": "price",
    "currency": "currency",
    "thumbnail": "thumbnail",
    "metadata": "metadata",
    "featured": "featured",
}


@api.route("POST", PREFIX)
async def create_live_session(call: SeedCall) -> Response:
    data = await call.json()
    draft = call.parse(
        SessionDraft,
        {ours: data[theirs] for theirs, ours in _CREATE_FIELDS.items() if theirs in data},
    )
    view = await call.services.sessions.create(call.user, draft)
    return ok(
        {"session": live_session(view)},
        "Live session created successfully. Start the session when ready to generate video room.",
        201,
    )


@api.route("GET", PREFIX)
async def list_live_sessions(call: SeedCall) -> Response:
    q = call.query(_ListQuery)
    flt = SessionFilter(
        status=q.status,
        instructor_id=q.expertId,
        featured=q.featured,
        limit=q.limit,
        offset=q.skip,
    )
    page = await call.services.sessions.search(call.user, call.user.tenant, flt)
    body = {"success": True, "data": [live_session(v) for v in page.items], "total": page.total}
    return json_response(body)


@api.route("GET", PREFIX + "/{id}")
async def get_live_session(call: SeedCall) -> Response:
    view = await call.services.sessions.get(call.user, call.path("id"))
    return ok({"session": live_session(view)})


@api.route("POST", PREFIX + "/{id}/start")
async def start_live_session(call: SeedCall) -> Response:
    view = await actions.transition(call.services, call.user, call.path("id"), "start")
    row = view.row
    return ok(
        {
            "roomId": row.id,
            "roomCode": row.room_name,
            "sessionUrl": f"{public_base(call)}/classroom/{row.id}",
        },
        "Session started. Click the link to join the video room.",
    )


@api.route("POST", PREFIX + "/{id}/enroll")
async def enroll(call: SeedCall) -> Response:
    request = call.parse(EnrollmentRequest, await call.json(optional=True))
    outcome = await call.services.enrollment.enroll(call.user, call.path("id"), request)
    return ok({"participantId": outcome.enrollment.id}, "Successfully enrolled in live session")


@api.route("POST", PREFIX + "/{id}/join-token")
async def join_token(call: SeedCall) -> Response:
    issued = await actions.issue_room_token(call.services, call.user, call.path("id"))
    grant = issued.grant
    return ok(
        {"token": issued.token, "role": grant.role.value, "userName": grant.name},
        "Join token generated",
    )


@api.route("POST", PREFIX + "/{id}/end")
async def end_live_session(call: SeedCall) -> Response:
    view = await actions.transition(call.services, call.user, call.path("id"), "end")
    row = view.row
    minutes = 0
    if row.started_at is not None and row.ended_at is not None:
        minutes = round((row.ended_at - row.started_at).total_seconds() / 60)
    return ok({"sessionId": row.id, "duration": minutes}, "Session ended successfully")
