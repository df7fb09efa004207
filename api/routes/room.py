"""The room: join tokens, REST presence (join/leave), the live roster and attendance."""

from __future__ import annotations

from datetime import UTC, datetime

from api.endpoint import Api, Call
from api.schemas import (
    AttendanceOut,
    AttendeeOut,
    JoinInterval,
    JoinOut,
    LeaveOut,
    ParticipantsOut,
    TokenOut,
    TokenRequest,
)
from api.views import participant_out, ws_url
from rooms.access import room_role_for
from rooms.errors import Forbidden
from rooms.sessions import is_enrolled, load_session
from rooms.store.types import utcnow
from rooms.tokens import RoomGrant
from signaling import close_codes

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
    services = call.services
    async with services.database.transaction() as tx:
        session = await load_session(tx, call.user, call.path("ref"))
        enrolled = await is_enrolled(tx, session.id, call.user.user_id)
    role = room_role_for(call.user, session, enrolled=enrolled)
    if role is None:
        raise Forbidden(
            "this session admits enrolled users only; enroll first", code="not_enrolled"
        )
    request: TokenRequest = call.body
    name = request.userName or call.user.name
    grant = RoomGrant.for_role(
        session_id=session.id,
        tenant=session.tenant_id,
        user_id=call.user.user_id,
        name=name,
        role=role,
    )
    token, expires = services.room_tokens.mint(grant)
    return TokenOut(
        token=token,
        expiresAt=datetime.fromtimestamp(expires, UTC),
        sessionId=session.id,
        roomName=session.room_name,
        role=role.value,
        isOwner=role.value == "host",
        userName=name,
        grants=grant.grants(),
        wsUrl=ws_url(services.settings.public_url),
    )


@api.route(
    "POST",
    "/sessions/{ref}/join",
    summary="Join the room without WebSocket",
    tags=TAGS,
    response=JoinOut,
    errors=(403, 404, 409),
)
async def join_room(call: Call) -> JoinOut:
    """Takes a seat in the live room (409 room_full, 409 room_not_live). The seat is held for
    heartbeatSeconds: call join again to keep it (it returns the same participant) or leave
    to free it. A user already connected over WebSocket gets that participant back."""
    services = call.services
    result = await services.participation.join(call.user, call.path("ref"))
    if result.created:
        await services.hub.announce(result.session.id, joined=[result.entry], left=[])
    return JoinOut(
        id=result.entry.participant_id,
        sessionId=result.session.id,
        roomName=result.session.room_name,
        userId=result.entry.user_id,
        role=result.entry.role.value,
        joinedAt=datetime.fromtimestamp(result.entry.joined_at_ms / 1000, UTC),
        created=result.created,
        heartbeatSeconds=services.participation.ttl_seconds,
        wsUrl=ws_url(services.settings.public_url),
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
    """Frees the caller's seat (whichever way they joined; a WebSocket connection of theirs
    is closed with 1000 at once). 404 when not in the room."""
    result = await call.services.participation.leave(call.user, call.path("ref"))
    await call.services.hub.removed(
        result.session.id, [result.entry], code=close_codes.NORMAL, reason="left"
    )
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
    await call.services.participation.expire(call.user, call.path("ref"))
    report = await call.services.attendance.report(call.user, call.path("ref"))
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
