"""What one REST call does across the domain and the room hub, shared by ``/api/v1`` and the
seed APIs (``api/compat``): each composes the domain operation with what the rooms must hear
(the hub's announcements, attendance, files), so every API ends, joins or chats the same way.

No rule lives here: the rules are in ``rooms``; this is only the wiring one call needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.services import Services
from rooms.breakout_store import BreakoutStore
from rooms.errors import Banned, Forbidden
from rooms.identity import Principal
from rooms.model import RoomRole
from rooms.participation import Participation
from rooms.schedules import ScheduleChange, ScheduleView
from rooms.session_reads import SessionView
from rooms.store.tables import ChatMessageRow, SessionRow
from rooms.tokens import RoomGrant
from signaling import close_codes

__all__ = [
    "IssuedToken",
    "delete_session",
    "issue_room_token",
    "join_room",
    "leave_room",
    "post_message",
    "transition",
    "update_schedule",
]

_REASONS = {"end": "the class ended", "cancel": "the class was cancelled"}


async def transition(services: Services, principal: Principal, ref: str, name: str) -> SessionView:
    """``start``, ``end`` or ``cancel`` session ``ref``; the room hears of an end or a
    cancellation and everyone in it leaves."""
    sessions = services.sessions
    action = {"start": sessions.start, "end": sessions.end, "cancel": sessions.cancel}[name]
    done = await action(principal, ref)
    if done.removed:
        await services.attendance.closed(done.row.id, done.removed)
    if name in _REASONS:
        await services.hub.room_ended(done.row.id, _REASONS[name])
    return await sessions.view(principal, done.row)


async def delete_session(services: Services, principal: Principal, ref: str) -> SessionRow:
    """Delete session ``ref`` with its rows and its recording files."""
    row = await services.sessions.delete(principal, ref)
    await services.recordings.remove_session_files(row.id)
    return row


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires: int
    session: SessionRow
    grant: RoomGrant


async def issue_room_token(
    services: Services, principal: Principal, ref: str, user_name: str | None = None
) -> IssuedToken:
    """A room token for ``principal`` in session ``ref`` (403 ``not_enrolled`` when the
    session admits enrolled users only, 403 ``banned`` for users the host removed)."""
    session, role = await services.participation.admission(principal, ref)
    _breakout_member(session, role, principal)
    if await services.bans.is_banned(session.id, principal.user_id):
        raise Banned("you were removed from this session by the host")
    grant = RoomGrant.for_role(
        session_id=session.id,
        tenant=session.tenant_id,
        user_id=principal.user_id,
        name=user_name or principal.name,
        role=role,
        room_name=session.room_name,
    )
    token, expires = services.room_tokens.mint(grant)
    return IssuedToken(token=token, expires=expires, session=session, grant=grant)


def _breakout_member(session: SessionRow, role: RoomRole, principal: Principal) -> None:
    """A breakout room lets in its own members only (and the class's hosts): 403
    ``not_in_breakout`` for another student."""
    if role is RoomRole.GUEST and not BreakoutStore.may_enter(session, principal.user_id):
        raise Forbidden("you are not in this breakout room", code="not_in_breakout")


async def join_room(
    services: Services, principal: Principal, ref: str, *, until_leave: bool = False
) -> Participation:
    """Take a seat over REST (see :meth:`RestParticipation.join`); the room hears of it. A
    student of a class whose waiting room is on, not let in yet and not in the room, is
    refused (403 ``waiting_room``): waiting is over WebSocket."""
    session, role = await services.participation.admission(principal, ref)
    _breakout_member(session, role, principal)
    if (
        role is RoomRole.GUEST
        and await services.hub.lobby.store.must_wait(session.id, principal.user_id)
        and await services.presence.participant_of(session.id, principal.user_id) is None
    ):
        raise Forbidden(
            "this class has a waiting room: join over WebSocket and wait to be let in",
            code="waiting_room",
        )
    result = await services.participation.join(principal, ref, until_leave=until_leave)
    if result.created:
        await services.hub.announce(result.session.id, joined=[result.entry], left=[])
    return result


async def leave_room(services: Services, principal: Principal, ref: str) -> Participation:
    """Give up the caller's seat, however it was taken (a WebSocket connection of theirs is
    closed with 1000 at once: no two seats for one); the room hears of it."""
    result = await services.participation.leave(principal, ref)
    await services.hub.removed(
        result.session.id, [result.entry], code=close_codes.NORMAL, reason="left"
    )
    return result


async def post_message(
    services: Services, principal: Principal, ref: str, text: str
) -> ChatMessageRow:
    """Send a chat message to the room (the session must be live) and store it; returns once
    it is durable. Nothing is stored when it cannot be sent (the caller may try again)."""
    return await services.chat.post(principal, ref, text, room=services.hub.chat_delivery)


async def update_schedule(
    services: Services, principal: Principal, schedule_id: str, change: ScheduleChange
) -> ScheduleView:
    """Change a scheduled slot; a status change of a linked slot moves its session (start,
    end or cancel) exactly as that session's own endpoints would."""
    done = await services.schedules.update(principal, schedule_id, change)
    if done.session_action is None or done.view.session is None:
        return done.view
    view = await transition(services, principal, done.view.session.id, done.session_action)
    return ScheduleView(done.view.row, view.row)
