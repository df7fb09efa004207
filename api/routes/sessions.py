"""Sessions: create, list, read, edit, delete, and the lifecycle transitions."""

from __future__ import annotations

from starlette.responses import Response

from api.actions import delete_session as delete_action
from api.actions import transition
from api.endpoint import Api, Call
from api.schemas.sessions import ListQuery, SessionList, SessionOut
from api.views import session_out
from rooms.errors import Unauthorized, ValidationFailed
from rooms.inputs import SessionDraft, SessionPatch
from rooms.session_reads import SessionFilter, SessionView

api = Api("/api/v1")
TAGS = ["sessions"]


def _out(call: Call, view: SessionView) -> SessionOut:
    return session_out(view, call.base)


@api.route(
    "POST",
    "/sessions",
    summary="Create a session",
    tags=TAGS,
    status=201,
    body=SessionDraft,
    response=SessionOut,
    errors=(403, 409),
)
async def create_session(call: Call) -> SessionOut:
    """Instructors and admins create sessions in their tenant. Without a schedule the session
    starts now and lasts an hour; without a roomName one is generated from the title."""
    return _out(call, await call.services.sessions.create(call.user, call.body))


@api.route(
    "GET",
    "/sessions",
    summary="List sessions",
    tags=TAGS,
    query=ListQuery,
    response=SessionList,
    auth="optional",
)
async def list_sessions(call: Call) -> SessionList:
    """The tenant's sessions, soonest first, filtered by status, instructor (instructorId or
    expertId), courseId, featured and a scheduled-start range. Anonymous callers may read the
    catalogue of ``tenant`` when the server enables LIVECLASS_PUBLIC_CATALOG."""
    q: ListQuery = call.query
    if call.principal is None:
        if not call.services.settings.public_catalog:
            raise Unauthorized("this endpoint needs a bearer token", code="missing_token")
        if not q.tenant:
            raise ValidationFailed("anonymous listing needs the tenant query parameter")
        tenant = q.tenant
    else:
        tenant = call.principal.tenant
    flt = SessionFilter(
        status=q.status,
        instructor_id=q.instructor(),
        course_id=q.courseId,
        featured=q.featured,
        starts_from=q.utc_from(),
        starts_to=q.utc_to(),
        limit=q.limit,
        offset=q.resolved_offset(),
    )
    page = await call.services.sessions.search(call.principal, tenant, flt)
    return SessionList(
        sessions=[_out(call, v) for v in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        page=page.page,
        totalPages=page.total_pages,
    )


@api.route(
    "GET",
    "/sessions/{ref}",
    summary="Get a session by id or room name",
    tags=TAGS,
    response=SessionOut,
    errors=(404,),
)
async def get_session(call: Call) -> SessionOut:
    """With live counts and the caller's permission flags (canEdit, canStart, canJoin...)."""
    return _out(call, await call.services.sessions.get(call.user, call.path("ref")))


@api.route(
    "PATCH",
    "/sessions/{ref}",
    summary="Edit a session",
    tags=TAGS,
    body=SessionPatch,
    response=SessionOut,
    errors=(403, 404, 409),
)
async def update_session(call: Call) -> SessionOut:
    """Owner or tenant admin. Rescheduling only while scheduled; ended and cancelled sessions
    are read-only; maxParticipants never below the enrolled count."""
    view = await call.services.sessions.update(call.user, call.path("ref"), call.body)
    return _out(call, view)


@api.route(
    "DELETE",
    "/sessions/{ref}",
    summary="Delete a session",
    tags=TAGS,
    status=204,
    errors=(403, 404, 409),
)
async def delete_session(call: Call) -> Response:
    """Owner or tenant admin; a live session must be ended first. Deletes its enrollments,
    attendance, chat and recordings."""
    await delete_action(call.services, call.user, call.path("ref"))
    return Response(status_code=204)


def _transition(name: str, summary: str, doc: str) -> None:
    async def handler(call: Call) -> SessionOut:
        return _out(call, await transition(call.services, call.user, call.path("ref"), name))

    handler.__name__ = f"{name}_session"
    handler.__doc__ = doc
    api.route(
        "POST",
        f"/sessions/{{ref}}/{name}",
        summary=summary,
        tags=TAGS,
        response=SessionOut,
        errors=(403, 404, 409),
    )(handler)


_transition(
    "start",
    "Start a session (scheduled → live)",
    "Opens the room. Owner or tenant admin; 409 unless scheduled or once its scheduled end "
    "has passed.",
)
_transition(
    "end",
    "End a session (live → ended)",
    "Closes the room: everyone leaves, attendance is closed, duration is final.",
)
_transition(
    "cancel",
    "Cancel a session (scheduled → cancelled)",
    "Owner or tenant admin; 409 unless scheduled.",
)
