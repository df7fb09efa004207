"""Enrollment, bookings, the instructor's sessions and feedback."""

from __future__ import annotations

from starlette.responses import Response

from api.endpoint import Api, Call
from api.responses import JSONResponse
from api.schemas.enrollment import (
    BookingList,
    BookingOut,
    BookingQuery,
    EnrollmentList,
    EnrollmentOut,
    FeedbackList,
    FeedbackOut,
    WaitlistOut,
    WaitlistPlaceOut,
)
from api.schemas.sessions import ListQuery, SessionList
from api.views import enrollment_out, session_out
from rooms.access import permissions
from rooms.errors import Forbidden
from rooms.inputs import EnrollmentRequest, FeedbackRequest
from rooms.session_reads import SessionFilter, SessionView
from rooms.waitlist import WaitlistPlace
from signaling import close_codes
from signaling.protocol import error_message

api = Api("/api/v1")


@api.route(
    "POST",
    "/sessions/{ref}/enroll",
    summary="Enroll in a session",
    tags=["enrollment"],
    status=201,
    body=EnrollmentRequest,
    body_optional=True,
    response=EnrollmentOut,
    errors=(402, 403, 404, 409),
)
async def enroll(call: Call) -> JSONResponse:
    """Books a seat: 201 with the new enrollment, or 200 with the existing one (duplicate-safe).
    Paid sessions need a paymentId (402 without). Seats are capped at maxParticipants in one
    transaction (409 session_full)."""
    outcome = await call.services.enrollment.enroll(call.user, call.path("ref"), call.body)
    body = enrollment_out(outcome.enrollment, outcome.session)
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if outcome.created else 200)


@api.route(
    "DELETE",
    "/sessions/{ref}/enroll",
    summary="Cancel my enrollment",
    tags=["enrollment"],
    response=EnrollmentOut,
    errors=(404, 409),
)
async def unenroll(call: Call) -> EnrollmentOut:
    """Frees the seat. 404 when not enrolled; 409 once the session ended or was cancelled.
    In a session that admits enrolled users only, the caller also leaves its room at once
    (a WebSocket connection is closed with 4003 ``not_enrolled``)."""
    services = call.services
    enrollment = await services.enrollment.unenroll(call.user, call.path("ref"))
    entry = await services.participation.withdraw(call.user, enrollment.session_id)
    if entry is not None:
        await services.hub.removed(
            enrollment.session_id,
            [entry],
            code=close_codes.FORBIDDEN,
            reason="not enrolled",
            message=error_message("not_enrolled", "you are no longer enrolled in this session"),
        )
    return enrollment_out(enrollment)


@api.route(
    "GET",
    "/sessions/{ref}/enrollments",
    summary="List a session's enrollments",
    tags=["enrollment"],
    response=EnrollmentList,
    errors=(403, 404),
)
async def list_enrollments(call: Call) -> EnrollmentList:
    """The session's instructor or a tenant admin only."""
    rows = await call.services.enrollment.roster(call.user, call.path("ref"))
    return EnrollmentList(enrollments=[enrollment_out(r) for r in rows], total=len(rows))


@api.route(
    "POST",
    "/sessions/{ref}/feedback",
    summary="Rate an ended session",
    tags=["enrollment"],
    body=FeedbackRequest,
    response=FeedbackOut,
    errors=(403, 404, 409),
)
async def give_feedback(call: Call) -> FeedbackOut:
    """A rating from 1 to 5 and a comment, by an enrolled user or attendee; may be revised."""
    row = await call.services.feedback.rate(call.user, call.path("ref"), call.body)
    return FeedbackOut(
        sessionId=row.session_id,
        userId=row.user_id,
        rating=row.rating,
        comment=row.comment,
        updatedAt=row.updated_at,
    )


def _place_out(place: WaitlistPlace) -> WaitlistPlaceOut:
    entry = place.entry
    return WaitlistPlaceOut(
        id=entry.id,
        sessionId=entry.session_id,
        userId=entry.user_id,
        userName=entry.user_name,
        position=place.position,
        joinedAt=entry.created_at,
    )


@api.route(
    "POST",
    "/sessions/{ref}/waitlist",
    summary="Wait for a seat of a full session",
    tags=["enrollment"],
    status=201,
    response=WaitlistPlaceOut,
    errors=(403, 404, 409),
)
async def join_waitlist(call: Call) -> JSONResponse:
    """201 with the caller's place (200 with the same place again). 409 ``seats_available``
    while seats are free (enroll instead), ``already_enrolled``. When a seat frees, the first
    user waiting is enrolled (webhooks ``enrollment.created`` and ``waitlist.promoted``)."""
    place, created = await call.services.waitlist.join(call.user, call.path("ref"))
    body = _place_out(place).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if created else 200)


@api.route(
    "DELETE",
    "/sessions/{ref}/waitlist",
    summary="Leave the waitlist",
    tags=["enrollment"],
    status=204,
    errors=(404,),
)
async def leave_waitlist(call: Call) -> Response:
    await call.services.waitlist.leave(call.user, call.path("ref"))
    return Response(status_code=204)


@api.route(
    "GET",
    "/sessions/{ref}/waitlist",
    summary="The waitlist",
    tags=["enrollment"],
    response=WaitlistOut,
    errors=(404,),
)
async def read_waitlist(call: Call) -> WaitlistOut:
    """Everyone waiting, in order, for the instructor and admins; one's own place otherwise."""
    session, places = await call.services.waitlist.places(call.user, call.path("ref"))
    return WaitlistOut(sessionId=session.id, waiting=[_place_out(p) for p in places])


@api.route(
    "GET",
    "/sessions/{ref}/feedback",
    summary="Read a session's feedback",
    tags=["enrollment"],
    response=FeedbackList,
    errors=(404,),
)
async def read_feedback(call: Call) -> FeedbackList:
    """Every rating with the average for the instructor and tenant admins; for others the
    average and their own rating."""
    report = await call.services.feedback.report(call.user, call.path("ref"))
    return FeedbackList(
        sessionId=report.session.id,
        count=report.count,
        average=report.average,
        feedback=[
            FeedbackOut(
                sessionId=r.session_id,
                userId=r.user_id,
                rating=r.rating,
                comment=r.comment,
                updatedAt=r.updated_at,
            )
            for r in report.ratings
        ],
    )


@api.route(
    "GET",
    "/me/sessions",
    summary="My sessions (instructor)",
    tags=["me"],
    query=ListQuery,
    response=SessionList,
    errors=(403,),
)
async def my_sessions(call: Call) -> SessionList:
    """The sessions the caller teaches, with the same filters and pagination as /sessions."""
    if not call.user.can_teach:
        raise Forbidden("only instructors and admins teach sessions", code="role_forbidden")
    q: ListQuery = call.query
    flt = SessionFilter(
        status=q.status,
        instructor_id=call.user.user_id,
        course_id=q.courseId,
        featured=q.featured,
        starts_from=q.utc_from(),
        starts_to=q.utc_to(),
        limit=q.limit,
        offset=q.resolved_offset(),
    )
    page = await call.services.sessions.search(call.user, call.user.tenant, flt)
    return SessionList(
        sessions=[session_out(v, call.base) for v in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        page=page.page,
        totalPages=page.total_pages,
    )


@api.route(
    "GET",
    "/me/bookings",
    summary="My bookings (student)",
    tags=["me"],
    query=BookingQuery,
    response=BookingList,
)
async def my_bookings(call: Call) -> BookingList:
    """The caller's active enrollments with their sessions, soonest first."""
    q: BookingQuery = call.query
    offset = q.resolved_offset()
    bookings, total = await call.services.enrollment.bookings(
        call.user, status=q.status, limit=q.limit, offset=offset
    )
    counts = await call.services.presence.counts(
        [b.session.id for b in bookings if b.session.status == "live"]
    )
    attended = await call.services.sessions.attended_counts([b.session.id for b in bookings])
    items = [
        BookingOut(
            enrollment=enrollment_out(b.enrollment),
            session=session_out(
                SessionView(
                    row=b.session,
                    active_count=counts.get(b.session.id, 0),
                    attended_count=attended.get(b.session.id, 0),
                    permissions=permissions(call.user, b.session, enrolled=True),
                ),
                call.base,
            ),
        )
        for b in bookings
    ]
    return BookingList(
        bookings=items,
        total=total,
        limit=q.limit,
        offset=offset,
        page=offset // q.limit + 1,
        totalPages=-(-total // q.limit) if total else 0,
    )
