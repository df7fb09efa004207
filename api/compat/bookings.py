"""Seed 002, the bookings app: ``/api/live-sessions``.

Translation onto the one domain:

- a live session is a liveclass session, shown as the app's frontend formats it: ``date``
  and ``time`` of its scheduled start (UTC), ``duration`` (``"60 minutes"``),
  ``instructor`` (the instructor's name), ``participants`` (seats booked) of
  ``maxParticipants``, ``status`` (``scheduled``, ``active`` while live, ``ended``,
  ``cancelled``) and the caller's flags (``canJoin``: may book it or join it live, the
  document's "join" being its word for booking; ``isExpert``; ``canEdit``,
  ``canStart``, ``canEnd``, ``isBooked`` in details). ``id`` is the session's id (a UUID
  string, where the app's own database had integers).
- booking is liveclass enrollment: duplicate-safe (a second booking returns the first, 200),
  seat-capped in one transaction (409 when full); ``POST .../join`` is the document's alias
  of ``book``. ``bookingStatus`` is the domain's (``confirmed``, ``pending`` for a paid
  session without a payment, ``cancelled``).
- experts (``expert``: instructor in the default role map) create, start and end (``PATCH``)
  and list their sessions; students list their bookings.
- the public list needs no token when LIVECLASS_PUBLIC_CATALOG is on (tenant from ``?tenant=``
  or LIVECLASS_DEFAULT_TENANT); filters ``status``, ``courseId``; ``page``/``limit``.
- answers ``{"success": true, "data": ..., "pagination"?, "message"?}``; errors
  ``{"success": false, "error": "...", "message": "..."}``.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api import actions
from api.compat._base import SeedApi, SeedCall, iso, json_response, public_base
from rooms.enrollment import booking_status
from rooms.errors import Forbidden, ValidationFailed
from rooms.inputs import EnrollmentRequest, SessionDraft
from rooms.model import SessionStatus
from rooms.session_reads import Page, SessionFilter, SessionView
from rooms.store.tables import EnrollmentRow

__all__ = ["api"]


def render_error(status: int, message: str, code: str) -> Response:
    return json_response({"success": False, "error": message, "message": message}, status)


api = SeedApi(render_error)

PREFIX = "/api/live-sessions"
_STATUS_OUT = {SessionStatus.LIVE.value: "active"}
_STATUS_IN = {"active": SessionStatus.LIVE, **{s.value: s for s in SessionStatus}}


class _ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str | None = None
    courseId: str | None = Field(default=None, min_length=1, max_length=128)
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=10, ge=1, le=100)

    def session_status(self) -> SessionStatus | None:
        if self.status is None:
            return None
        if self.status not in _STATUS_IN:
            raise ValidationFailed("status must be scheduled, active, ended or cancelled")
        return _STATUS_IN[self.status]


class _Create(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str
    description: str = ""
    courseId: str | None = None
    scheduledAt: datetime | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    duration: int = Field(default=60, ge=1, le=48 * 60)
    maxParticipants: int = 50
    price: float = 0
    currency: str | None = None

    def draft(self) -> SessionDraft:
        start = self.scheduledAt
        if start is None and self.date is not None:
            start = datetime.combine(self.date, self.time or dt.time(0), tzinfo=UTC)
        fields: dict[str, Any] = {
            "title": self.title,
            "description": self.description,
            "courseId": self.courseId,
            "maxParticipants": self.maxParticipants,
            "price": self.price,
            "currency": self.currency,
        }
        if start is not None:
            fields["scheduledStart"] = start
            fields["scheduledEnd"] = start + timedelta(minutes=self.duration)
        return SeedCall.parse(SessionDraft, fields)


def formatted(view: SessionView) -> dict[str, Any]:
    row, perms = view.row, view.permissions
    start = row.scheduled_start.astimezone(UTC)
    minutes = int((row.scheduled_end - row.scheduled_start).total_seconds() // 60)
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "instructor": row.instructor_name,
        "instructorId": row.instructor_id,
        "courseId": row.course_id,
        "date": start.strftime("%Y-%m-%d"),
        "time": start.strftime("%H:%M"),
        "scheduledAt": iso(row.scheduled_start),
        "duration": f"{minutes} minutes",
        "participants": row.enrolled_count,
        "maxParticipants": row.max_participants,
        "activeParticipants": view.active_count,
        "status": _STATUS_OUT.get(row.status, row.status),
        "price": float(row.price),
        "currency": row.currency,
        # "join" is the document's word for booking (POST .../join books): bookable or live
        "canJoin": perms.can_enroll or perms.can_join,
        "canBook": perms.can_enroll,
        "isExpert": perms.is_instructor,
    }


def _detailed(call: SeedCall, view: SessionView, booking: EnrollmentRow | None) -> dict[str, Any]:
    perms = view.permissions
    return {
        **formatted(view),
        "meetingUrl": f"{public_base(call)}/classroom/{view.row.id}",
        "canEdit": perms.can_edit,
        "canStart": perms.can_start,
        "canEnd": perms.can_end,
        "isBooked": booking is not None,
        "bookingId": booking.id if booking else None,
        "bookingStatus": booking_status(booking, view.row).value if booking else None,
    }


def _paged(items: list[dict[str, Any]], page: int, limit: int, total: int) -> dict[str, Any]:
    return {
        "success": True,
        "data": items,
        "pagination": {
            "page": page,
            "limit": limit,
            "total": total,
            "totalPages": -(-total // limit) if total else 0,
        },
    }


def _page_body(page: Page) -> dict[str, Any]:
    return _paged([formatted(v) for v in page.items], page.page, page.limit, page.total)


@api.route("GET", PREFIX, auth="optional")
async def list_sessions(call: SeedCall) -> Response:
    q = call.query(_ListQuery)
    flt = SessionFilter(
        status=q.session_status(),
        course_id=q.courseId,
        limit=q.limit,
        offset=(q.page - 1) * q.limit,
    )
    page = await call.services.sessions.search(call.principal, call.reader_tenant(), flt)
    return json_response(_page_body(page))


@api.route("GET", PREFIX + "/expert/my-sessions")
async def my_sessions(call: SeedCall) -> Response:
    if not call.user.can_teach:
        raise Forbidden("only experts have sessions", code="role_forbidden")
    q = call.query(_ListQuery)
    flt = SessionFilter(
        status=q.session_status(),
        instructor_id=call.user.user_id,
        course_id=q.courseId,
        limit=q.limit,
        offset=(q.page - 1) * q.limit,
    )
    page = await call.services.sessions.search(call.user, call.user.tenant, flt)
    return json_response(_page_body(page))


@api.route("GET", PREFIX + "/student/my-bookings")
async def my_bookings(call: SeedCall) -> Response:
    q = call.query(_ListQuery)
    bookings, total = await call.services.enrollment.bookings(
        call.user, status=q.session_status(), limit=q.limit, offset=(q.page - 1) * q.limit
    )
    items = []
    for booking in bookings:
        view = await call.services.sessions.view(call.user, booking.session)
        item = _detailed(call, view, booking.enrollment)
        items.append({**item, "bookedAt": iso(booking.enrollment.enrolled_at)})
    return json_response(_paged(items, q.page, q.limit, total))


@api.route("GET", PREFIX + "/{sessionId}")
async def get_session(call: SeedCall) -> Response:
    view = await call.services.sessions.get(call.user, call.path("sessionId"))
    booking = (await call.services.enrollment.enrollment_of(call.user, [view.row.id])).get(
        view.row.id
    )
    return json_response({"success": True, "data": _detailed(call, view, booking)})


@api.route("POST", PREFIX)
async def create_session(call: SeedCall) -> Response:
    body = await call.body(_Create)
    view = await call.services.sessions.create(call.user, body.draft())
    return json_response(
        {"success": True, "data": formatted(view), "message": "Session created successfully"},
        201,
    )


async def _book(call: SeedCall) -> Response:
    request = call.parse(EnrollmentRequest, await call.json(optional=True))
    outcome = await call.services.enrollment.enroll(call.user, call.path("sessionId"), request)
    status = booking_status(outcome.enrollment, outcome.session)
    return json_response(
        {
            "success": True,
            "data": {
                "bookingId": outcome.enrollment.id,
                "sessionId": outcome.session.id,
                "status": status.value,
                "bookedAt": iso(outcome.enrollment.enrolled_at),
                "participants": outcome.session.enrolled_count,
                "maxParticipants": outcome.session.max_participants,
            },
            "message": "Session booked successfully" if outcome.created else "Already booked",
        },
        201 if outcome.created else 200,
    )


@api.route("POST", PREFIX + "/{sessionId}/book")
async def book_session(call: SeedCall) -> Response:
    return await _book(call)


@api.route("POST", PREFIX + "/{sessionId}/join")
async def join_session(call: SeedCall) -> Response:
    """The document's alias of ``book``."""
    return await _book(call)


def _transition(name: str, message: str) -> None:
    async def handler(call: SeedCall) -> Response:
        view = await actions.transition(call.services, call.user, call.path("sessionId"), name)
        return json_response({"success": True, "data": formatted(view), "message": message})

    handler.__name__ = f"{name}_session"
    api.route("PATCH", f"{PREFIX}/{{sessionId}}/{name}")(handler)


_transition("start", "Session started successfully")
_transition("end", "Session ended successfully")
