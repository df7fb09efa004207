"""The room: join tokens, REST presence (join/leave), the live roster and attendance."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from starlette.responses import Response

from api import actions
from api.actions import issue_room_token
from api.endpoint import Api, Call
from api.links import ws_url
from api.schemas.room import (
    AttendanceOut,
    AttendeeOut,
    IceServerOut,
    JoinInterval,
    JoinOut,
    JoinRequest,
    LeaveOut,
    ParticipantsOut,
    TokenOut,
    TokenRequest,
)
from api.views import participant_out
from rooms.attendance import AttendanceReport
from rooms.store.types import utcnow

api = Api("/api/v1")
TAGS = ["room"]


@api.route(
    "POST",
    "/sessions/{ref}/token",
    summary="Get a room token",
    tags=TAGS,
    body=TokenRequest,
    body_optional=True,
    response=TokenOut,
    errors=(403, 404),
)
async def room_token(call: Call) -> TokenOut:
    """A short-lived token for the session's room and the WebSocket URL to use it on. The
    instructor gets ``host``, tenant admins ``observer``, admitted members ``guest`` (free
    sessions admit the whole tenant unless they require enrollment; paid ones require it).
    Users the host removed get 403. Tokens may be fetched before the session is live."""
    request: TokenRequest = call.body
    issued = await issue_room_token(call.services, call.user, call.path("ref"), request.userName)
    grant = issued.grant
    return TokenOut(
        token=issued.token,
        expiresAt=datetime.fromtimestamp(issued.expires, UTC),
        sessionId=issued.session.id,
        roomName=issued.session.room_name,
        role=grant.role.value,
        isOwner=grant.is_owner,
        userName=grant.name,
        grants=grant.grants(),
        wsUrl=ws_url(call.base),
        iceServers=[IceServerOut(**s) for s in call.services.hub.ice_servers(call.user.user_id)],
    )


@api.route(
    "POST",
    "/sessions/{ref}/join",
    summary="Join the room without WebSocket",
    tags=TAGS,
    body=JoinRequest,
    body_optional=True,
    response=JoinOut,
    errors=(403, 404, 409),
)
async def join_room(call: Call) -> JoinOut:
    """Takes a seat in the live room (409 room_full, 409 room_not_live). The seat is held for
    heartbeatSeconds: call join again to keep it (it returns the same participant) or leave
    to free it; with ``{"untilLeave": true}`` it stays taken until leave or the end of the
    class (heartbeatSeconds null). A user already connected over WebSocket gets that
    participant back."""
    services = call.services
    request: JoinRequest = call.body
    result = await actions.join_room(
        services, call.user, call.path("ref"), until_leave=request.untilLeave
    )
    return JoinOut(
        id=result.entry.participant_id,
        sessionId=result.session.id,
        roomName=result.session.room_name,
        userId=result.entry.user_id,
        role=result.entry.role.value,
        joinedAt=datetime.fromtimestamp(result.entry.joined_at_ms / 1000, UTC),
        created=result.created,
        heartbeatSeconds=None if request.untilLeave else services.participation.ttl_seconds,
        wsUrl=ws_url(call.base),
    )


@api.route(
    "POST",
    "/sessions/{ref}/leave",
    summary="Leave the room",
    tags=TAGS,
    response=LeaveOut,
    errors=(404,),
)
async def leave_room(call: Call) -> LeaveOut:
    """Frees the caller's seat (whichever way they joined). 404 when not in the room."""
    result = await actions.leave_room(call.services, call.user, call.path("ref"))
    return LeaveOut(
        id=result.entry.participant_id,
        sessionId=result.session.id,
        userId=result.entry.user_id,
        leftAt=utcnow(),
    )


@api.route(
    "GET",
    "/sessions/{ref}/participants",
    summary="Who is in the room now",
    tags=TAGS,
    response=ParticipantsOut,
    errors=(404,),
)
async def participants(call: Call) -> ParticipantsOut:
    """Live presence: activeCount (everyone visible, host included), seats taken out of
    maxCapacity (the host and observers take no seat), isFull, and the participants."""
    roster = await call.services.participation.roster(call.user, call.path("ref"))
    snap = roster.snapshot
    capacity = roster.session.max_participants
    return ParticipantsOut(
        sessionId=roster.session.id,
        status=roster.session.status,
        activeCount=snap.count,
        maxCapacity=capacity,
        seatsTaken=snap.seats,
        isFull=snap.seats >= capacity,
        capacityUsed=round(100.0 * snap.seats / capacity, 2),
        participants=[participant_out(e) for e in roster.entries],
    )


@api.route(
    "GET",
    "/sessions/{ref}/attendance",
    summary="Attendance report",
    tags=TAGS,
    response=AttendanceOut,
    errors=(403, 404),
)
async def attendance(call: Call) -> AttendanceOut:
    """Every join and leave per user, watch time in seconds and whether they attended.
    The session's instructor or a tenant admin only."""
    report = await _attendance_report(call)
    return AttendanceOut(
        sessionId=report.session.id,
        attendedCount=report.attended_count,
        participants=[
            AttendeeOut(
                userId=u.user_id,
                name=u.name,
                role=u.role,
                joins=[JoinInterval(joinedAt=a, leftAt=b) for a, b in u.intervals],
                watchTime=u.watch_seconds,
                attended=u.attended,
                firstJoinedAt=u.first_joined,
                lastLeftAt=u.last_left,
            )
            for u in report.users
        ],
    )


async def _attendance_report(call: Call) -> AttendanceReport:
    await call.services.participation.expire(call.user, call.path("ref"))
    return await call.services.attendance.report(call.user, call.path("ref"))


_CSV = {
    "description": "One line per participant",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}
_CSV_COLUMNS = [
    "userId",
    "name",
    "role",
    "attended",
    "watchTimeSeconds",
    "firstJoinedAt",
    "lastLeftAt",
    "joins",
]


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else ""


@api.route(
    "GET",
    "/sessions/{ref}/attendance.csv",
    summary="Attendance report as CSV",
    tags=TAGS,
    raw_response=_CSV,
    errors=(403, 404),
)
async def attendance_csv(call: Call) -> Response:
    """The attendance report as a spreadsheet: one line per participant, with their watch
    time in seconds and the number of times they joined. Instructor or tenant admin."""
    report = await _attendance_report(call)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for u in report.users:
        writer.writerow(
            [
                u.user_id,
                _spreadsheet_safe(u.name),
                u.role,
                "yes" if u.attended else "no",
                u.watch_seconds,
                _when(u.first_joined),
                _when(u.last_left),
                len(u.intervals),
            ]
        )
    filename = f"attendance-{report.session.room_name}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _spreadsheet_safe(text: str) -> str:
    """Names are the users' own: one starting like a formula is kept as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
