"""Seed 004, self-hosted live classes: ``/live-classes``.

Translation onto the one domain:

- a live class is a liveclass session; ``roomId`` is its id (the room on ``/ws``). Created
  by ``training_manager`` and ``org_admin`` (instructor and admin in the default role map);
  ``tenantId`` in the body must be the caller's own tenant (from the token), anything else is
  403: tenants are isolated. ``scheduledAt`` is the scheduled start (the class lasts an hour
  unless rescheduled over ``/api/v1``); ``maxParticipants`` defaults to 200, as documented.
- start/end are the session's transitions (``scheduled → live → ended``); a transition from
  the wrong state is 400 ``Cannot start class with status: live``, as documented.
- join takes a REST seat that stays taken until ``leave`` or the end of the class (a join of
  someone already in the room returns their participant); full: 409; not live: 400.
- participants: ``/participants`` is the room's live presence; the details list one record
  per join (``leftAt`` once left, as the document's participant records), both with ``role``
  ``teacher`` for the host and ``participant`` for everyone else (hidden observers are not
  listed but to the instructor and admins).
  ``participantCount`` counts the students who attended; ``activeParticipants`` (and
  ``activeCount``) everyone in the room now.
- ``POST /{id}/recording`` registers the recording's URL, set once (409 afterwards).
- errors: ``{"statusCode", "message", "error"}`` with the HTTP reason phrase.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api import actions
from api.compat._base import SeedApi, SeedCall, from_ms, iso, json_response
from rooms.errors import Forbidden, InvalidState, RoomFull
from rooms.inputs import AwareDatetime, Capacity, Description, RecordingLinkRequest, Title
from rooms.inputs import SessionDraft as Draft
from rooms.model import RoomRole, SessionStatus
from rooms.presence import PresenceEntry
from rooms.session_reads import SessionFilter, SessionView
from rooms.store.types import utcnow

__all__ = ["api"]


def render_error(status: int, message: str, code: str) -> Response:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return json_response({"statusCode": status, "message": message, "error": phrase}, status)


api = SeedApi(render_error, statuses={InvalidState: 400, RoomFull: 409})

_NOT_FOUND = "Live class not found"
_MESSAGES: dict[int | str, str] = {"session_not_found": _NOT_FOUND}


class _Create(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tenantId: str | None = Field(default=None, max_length=128)
    title: Title
    description: Description = ""
    scheduledAt: AwareDatetime
    maxParticipants: Capacity = 200


class _ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: SessionStatus | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


def _role(entry: PresenceEntry) -> str:
    return "teacher" if entry.role is RoomRole.HOST else "participant"


def _summary(view: SessionView) -> dict[str, Any]:
    row = view.row
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "status": row.status,
        "roomId": row.id,
        "tenantId": row.tenant_id,
        "createdBy": row.instructor_id,
        "scheduledAt": iso(row.scheduled_start),
        "startedAt": iso(row.started_at),
        "endedAt": iso(row.ended_at),
        "maxParticipants": row.max_participants,
        "participantCount": view.attended_count,
        "activeParticipants": view.active_count,
        "recordingUrl": row.recording_url,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


@api.route("POST", "/live-classes")
async def create_live_class(call: SeedCall) -> Response:
    body = await call.body(_Create)
    if body.tenantId is not None and body.tenantId != call.user.tenant:
        raise Forbidden("tenantId is not your organization", code="tenant_mismatch")
    draft = Draft(
        title=body.title,
        description=body.description,
        scheduledStart=body.scheduledAt,
        maxParticipants=body.maxParticipants,
    )
    view = await call.services.sessions.create(call.user, draft)
    return json_response(_summary(view), 201)


@api.route("GET", "/live-classes")
async def list_live_classes(call: SeedCall) -> Response:
    q = call.query(_ListQuery)
    flt = SessionFilter(status=q.status, limit=q.limit, offset=q.offset)
    page = await call.services.sessions.search(call.user, call.user.tenant, flt)
    return json_response(
        {
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
            "liveClasses": [_summary(v) for v in page.items],
        }
    )


@api.route("GET", "/live-classes/{liveClassId}", messages=_MESSAGES)
async def get_live_class(call: SeedCall) -> Response:
    ref = call.path("liveClassId")
    view = await call.services.sessions.get(call.user, ref)
    _, records = await call.services.participation.records(call.user, ref)
    participants = [
        {
            "id": r.participant_id,
            "userId": r.user_id,
            "role": "teacher" if r.role == RoomRole.HOST.value else "participant",
            "joinedAt": iso(r.joined_at),
            "leftAt": iso(r.left_at),
        }
        for r in records
    ]
    return json_response({**_summary(view), "participants": participants})


def _transition(name: str, done: str) -> None:
    async def handler(call: SeedCall) -> Response:
        view = await actions.transition(call.services, call.user, call.path("liveClassId"), name)
        stamp = view.row.started_at if name == "start" else view.row.ended_at
        return json_response(
            {
                "id": view.row.id,
                "status": view.row.status,
                f"{done}At": iso(stamp),
                "message": f"Live class {done} successfully",
            }
        )

    handler.__name__ = f"{name}_live_class"
    api.route(
        "POST",
        f"/live-classes/{{liveClassId}}/{name}",
        messages={
            **_MESSAGES,
            403: f"Only the class creator can {name} the class",
            400: f"Cannot {name} class with status: {{status}}",
        },
    )(handler)


_transition("start", "started")
_transition("end", "ended")


@api.route(
    "POST",
    "/live-classes/{liveClassId}/join",
    messages={
        **_MESSAGES,
        "room_not_live": "Cannot join class with status: {status}",
        "room_full": "Live class is at maximum capacity ({capacity} participants)",
    },
)
async def join_live_class(call: SeedCall) -> Response:
    joined = await actions.join_room(
        call.services, call.user, call.path("liveClassId"), until_leave=True
    )
    return json_response(
        {
            "id": joined.entry.participant_id,
            "liveClassId": joined.session.id,
            "userId": joined.entry.user_id,
            "roomId": joined.session.id,
            "role": _role(joined.entry),
            "joinedAt": iso(from_ms(joined.entry.joined_at_ms)),
            "message": "Joined live class successfully",
        }
    )


@api.route(
    "POST",
    "/live-classes/{liveClassId}/leave",
    messages={**_MESSAGES, "not_in_room": "Not currently in this live class"},
)
async def leave_live_class(call: SeedCall) -> Response:
    left = await actions.leave_room(call.services, call.user, call.path("liveClassId"))
    return json_response(
        {
            "id": left.entry.participant_id,
            "liveClassId": left.session.id,
            "userId": left.entry.user_id,
            "leftAt": iso(utcnow()),
            "message": "Left live class successfully",
        }
    )


@api.route("GET", "/live-classes/{liveClassId}/participants", messages=_MESSAGES)
async def live_class_participants(call: SeedCall) -> Response:
    roster = await call.services.participation.roster(call.user, call.path("liveClassId"))
    snap, capacity = roster.snapshot, roster.session.max_participants
    return json_response(
        {
            "liveClassId": roster.session.id,
            "activeCount": snap.count,
            "maxCapacity": capacity,
            "isFull": snap.seats >= capacity,
            "capacityUsed": f"{round(100 * snap.seats / capacity)}%",
            "participants": [
                {"userId": e.user_id, "role": _role(e), "joinedAt": iso(from_ms(e.joined_at_ms))}
                for e in snap.visible
            ],
        }
    )


@api.route(
    "POST",
    "/live-classes/{liveClassId}/recording",
    messages={**_MESSAGES, 403: "Only the class creator can set the recording"},
)
async def set_recording_url(call: SeedCall) -> Response:
    data = await call.json()
    body = call.parse(RecordingLinkRequest, {k: v for k, v in data.items() if k == "recordingUrl"})
    stored = await call.services.recordings.register_link(
        call.user, call.path("liveClassId"), body.recordingUrl
    )
    return json_response(
        {
            "id": stored.session.id,
            "recordingUrl": stored.session.recording_url,
            "message": "Recording URL updated successfully",
        }
    )
