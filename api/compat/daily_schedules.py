"""Seed 000, the Daily.co app: scheduled sessions (``/scheduled-sessions``).

Each is a scheduled slot of :mod:`rooms.schedules`: a time an instructor plans to teach,
linked by ``sessionId`` to the live session (a liveclass session) that opens the room. Its
status is ``scheduled``/``live``/``finished``; once linked, it is the session's status, and
``PATCH .../status`` (or ``PUT`` with ``status``) starts, ends or cancels that session, exactly
as the session's own endpoints do. ``sessionId`` may name the session by id or room name.

Lists are paged with ``page`` and ``limit`` (1..100) and filtered by ``instructorId``;
``instructor`` is populated (``{_id, name, email}``) in reads and a plain id in writes, and
``sessionId`` is populated (``{_id, roomName, title}``) by ``GET /scheduled-sessions/{id}``,
as the document shows. Errors are ``{"message": ...}`` with the document's messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api import actions
from api.compat._base import SeedApi, SeedCall, iso, json_response
from api.compat.daily import render_error
from rooms.errors import BadRequest, InvalidState
from rooms.inputs import AwareDatetime
from rooms.schedules import ScheduleChange, ScheduleStatus, ScheduleView

__all__ = ["api"]

api = SeedApi(render_error, statuses={InvalidState: 409})

_NOT_FOUND = "Scheduled session not found"
_BAD_STATUS = "Invalid status. Must be one of: scheduled, live, finished"


class _Create(BaseModel):
    model_config = ConfigDict(extra="ignore")

    startsAt: AwareDatetime


class _Update(BaseModel):
    model_config = ConfigDict(extra="ignore")

    startsAt: AwareDatetime | None = None
    sessionId: str | None = Field(default=None, min_length=1, max_length=128)


class _ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=10, ge=1, le=100)
    instructorId: str | None = Field(default=None, min_length=1, max_length=128)


def _status(data: dict[str, Any], *, required: bool) -> ScheduleStatus | None:
    value = data.get("status")
    if value is None:
        if required:
            raise BadRequest("status is required", code="missing_status")
        return None
    try:
        return ScheduleStatus(value)
    except ValueError as exc:
        raise BadRequest(_BAD_STATUS, code="invalid_status") from exc


def _when(value: datetime) -> str | None:
    return iso(value, millis=True)


def _written(view: ScheduleView) -> dict[str, Any]:
    """A slot as the writes return it: ids only."""
    return {
        "_id": view.row.id,
        "instructor": view.row.instructor_id,
        "startsAt": _when(view.row.starts_at),
        "status": view.status.value,
        "sessionId": view.row.session_id,
    }


def _read(view: ScheduleView, *, populate_session: bool) -> dict[str, Any]:
    """A slot as the reads return it: the instructor populated (and the session, by id)."""
    row, session = view.row, view.session
    linked: Any = row.session_id
    if populate_session and session is not None:
        linked = {"_id": session.id, "roomName": session.room_name, "title": session.title}
    return {
        "_id": row.id,
        "instructor": {
            "_id": row.instructor_id,
            "name": row.instructor_name,
            "email": row.instructor_email,
        },
        "startsAt": _when(row.starts_at),
        "status": view.status.value,
        "sessionId": linked,
    }


@api.route("POST", "/scheduled-sessions")
async def create_scheduled_session(call: SeedCall) -> Response:
    body = await call.body(_Create)
    view = await call.services.schedules.create(call.user, body.startsAt)
    return json_response(_written(view), 201)


@api.route("GET", "/scheduled-sessions", auth="optional")
async def list_scheduled_sessions(call: SeedCall) -> Response:
    q = call.query(_ListQuery)
    page = await call.services.schedules.search(
        call.reader_tenant(), instructor_id=q.instructorId, page=q.page, limit=q.limit
    )
    return json_response(
        {
            "sessions": [_read(v, populate_session=False) for v in page.items],
            "page": page.page,
            "limit": page.limit,
            "totalItems": page.total,
            "totalPages": page.total_pages,
        }
    )


@api.route("GET", "/scheduled-sessions/{id}", auth="optional", messages={404: _NOT_FOUND})
async def get_scheduled_session(call: SeedCall) -> Response:
    view = await call.services.schedules.get(call.reader_tenant(), call.path("id"))
    return json_response(_read(view, populate_session=True))


_WRITE_MESSAGES: dict[int | str, str] = {
    "schedule_not_found": _NOT_FOUND,
    403: "Not authorized to update this scheduled session",
}


@api.route("PATCH", "/scheduled-sessions/{id}/status", messages=_WRITE_MESSAGES)
async def update_scheduled_session_status(call: SeedCall) -> Response:
    status = _status(await call.json(), required=True)
    change = ScheduleChange(status=status)
    view = await actions.update_schedule(call.services, call.user, call.path("id"), change)
    return json_response(_written(view))


@api.route("PUT", "/scheduled-sessions/{id}", messages=_WRITE_MESSAGES)
async def update_scheduled_session(call: SeedCall) -> Response:
    data = await call.json()
    status = _status(data, required=False)
    body = call.parse(_Update, data)
    change = ScheduleChange(starts_at=body.startsAt, status=status, session_ref=body.sessionId)
    view = await actions.update_schedule(call.services, call.user, call.path("id"), change)
    return json_response(_written(view))


@api.route(
    "DELETE",
    "/scheduled-sessions/{id}",
    messages={404: _NOT_FOUND, 403: "Not authorized to delete this scheduled session"},
)
async def delete_scheduled_session(call: SeedCall) -> Response:
    await call.services.schedules.delete(call.user, call.path("id"))
    return json_response({"message": "Scheduled session deleted successfully"})
