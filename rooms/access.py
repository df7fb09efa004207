"""Who may do what with a session. Pure functions over a principal and a session row.

- Every member of the session's tenant may see it (another tenant's session does not exist
  for them: the services raise NotFound, never Forbidden).
- The creator (instructor) and the tenant's admins manage it: edit, start, end, cancel,
  delete, record, see attendance.
- Joining: the creator joins as ``host``, tenant admins as hidden ``observer``. A free session
  is open to every member of its tenant as ``guest``; a paid one, or one whose instructor set
  ``requiresEnrollment``, admits only enrolled users.
"""

from __future__ import annotations

from dataclasses import dataclass

from rooms.identity import Principal
from rooms.model import RoomRole, SessionStatus
from rooms.store.tables import SessionRow

__all__ = [
    "Permissions",
    "can_manage",
    "is_owner",
    "needs_enrollment",
    "permissions",
    "room_role_for",
]


def is_owner(principal: Principal, session: SessionRow) -> bool:
    return principal.user_id == session.instructor_id and principal.tenant == session.tenant_id


def can_manage(principal: Principal, session: SessionRow) -> bool:
    return is_owner(principal, session) or (
        principal.is_admin and principal.tenant == session.tenant_id
    )


def needs_enrollment(session: SessionRow) -> bool:
    return session.price > 0 or session.requires_enrollment


def room_role_for(principal: Principal, session: SessionRow, *, enrolled: bool) -> RoomRole | None:
    """The role ``principal`` would have in the room, or None if it may not join."""
    if principal.tenant != session.tenant_id:
        return None
    if is_owner(principal, session):
        return RoomRole.HOST
    if principal.is_admin:
        return RoomRole.OBSERVER
    if needs_enrollment(session) and not enrolled:
        return None
    return RoomRole.GUEST


@dataclass(frozen=True, slots=True)
class Permissions:
    can_edit: bool
    can_start: bool
    can_end: bool
    can_cancel: bool
    can_join: bool
    can_enroll: bool
    is_instructor: bool
    is_enrolled: bool


def permissions(principal: Principal | None, session: SessionRow, *, enrolled: bool) -> Permissions:
    """The caller's permission flags, as shown in session responses."""
    if principal is None:
        return Permissions(False, False, False, False, False, False, False, False)
    status = SessionStatus(session.status)
    manage = can_manage(principal, session)
    owner = is_owner(principal, session)
    open_status = status in (SessionStatus.SCHEDULED, SessionStatus.LIVE)
    return Permissions(
        can_edit=manage and open_status,
        can_start=manage and status is SessionStatus.SCHEDULED,
        can_end=manage and status is SessionStatus.LIVE,
        can_cancel=manage and status is SessionStatus.SCHEDULED,
        can_join=status is SessionStatus.LIVE
        and room_role_for(principal, session, enrolled=enrolled) is not None,
        can_enroll=not owner
        and open_status
        and not enrolled
        and session.enrolled_count < session.max_participants,
        is_instructor=owner,
        is_enrolled=enrolled,
    )
