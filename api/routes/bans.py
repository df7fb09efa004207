"""Removed participants: the host (or a tenant admin) sees whom they removed and can let them
back in (an undone removal)."""

from __future__ import annotations

from starlette.responses import Response

from api.endpoint import Api, Call
from api.schemas.bans import BanOut, BansOut
from rooms.access import can_manage
from rooms.errors import Forbidden, NotFound
from rooms.session_lookup import load_session
from rooms.store.tables import SessionRow

api = Api("/api/v1")
TAGS = ["room"]


async def _managed(call: Call) -> SessionRow:
    async with call.services.database.transaction() as tx:
        session = await load_session(tx, call.user, call.path("ref"))
    if not can_manage(call.user, session):
        raise Forbidden("only the session's instructor or a tenant admin manages removals")
    return session


@api.route(
    "GET",
    "/sessions/{ref}/bans",
    summary="List removed participants",
    tags=TAGS,
    response=BansOut,
    errors=(403, 404),
)
async def list_bans(call: Call) -> BansOut:
    """Users the host removed from the session, oldest first (instructor or tenant admin)."""
    session = await _managed(call)
    rows = await call.services.bans.of_session(session.id)
    return BansOut(
        sessionId=session.id,
        bans=[
            BanOut(
                userId=r.user_id,
                userName=r.user_name,
                reason=r.reason,
                bannedBy=r.banned_by,
                bannedAt=r.created_at,
            )
            for r in rows
        ],
    )


@api.route(
    "DELETE",
    "/sessions/{ref}/bans/{userId}",
    summary="Let a removed participant back in",
    tags=TAGS,
    status=204,
    errors=(403, 404),
)
async def lift_ban(call: Call) -> Response:
    """Undo a removal: the user may get a room token and join again (instructor or tenant
    admin). 404 ``ban_not_found`` when they were not removed."""
    session = await _managed(call)
    if not await call.services.bans.lift(session.id, call.path("userId")):
        raise NotFound("that user was not removed from this session", code="ban_not_found")
    return Response(status_code=204)
