"""The one door to a session: find it by reference within the caller's tenant, and check
who may see and manage it.

A session is addressed by its id (UUID) or its room name, always within the caller's
tenant: another tenant's session is a :class:`NotFound`. A user the host removed is
:class:`Banned` from everything about the session.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.access import can_manage
from rooms.errors import Banned, Forbidden, NotFound
from rooms.identity import Principal
from rooms.ids import is_uuid
from rooms.model import EnrollmentStatus
from rooms.store.tables import BanRow, EnrollmentRow, SessionRow

__all__ = [
    "is_enrolled",
    "load_session",
    "require_manage",
    "require_not_banned",
    "tenant_session_query",
]


def tenant_session_query(tenant: str, ref: str) -> Select[SessionRow]:
    """The select for session ``ref`` (id or room name) inside ``tenant``."""
    column = SessionRow.id if is_uuid(ref) else SessionRow.room_name
    return select(SessionRow).where(SessionRow.tenant_id == tenant, column == ref)


async def load_session(tx: AsyncSession, principal: Principal, ref: str) -> SessionRow:
    """Session ``ref`` in the caller's tenant, or :class:`NotFound`.

    This is the one door to a session for every service: a user the host removed (banned)
    gets :class:`Banned` here, for every read and action on the session (its messages,
    participants, recordings, tokens, the session itself). Managers are never banned.
    """
    banned = (
        select(BanRow.id)
        .where(BanRow.session_id == SessionRow.id, BanRow.user_id == principal.user_id)
        .exists()
    )
    found = (
        await tx.execute(tenant_session_query(principal.tenant, ref).add_columns(banned))
    ).one_or_none()
    if found is None:
        raise NotFound("session not found", code="session_not_found")
    row: SessionRow = found[0]
    if found[1] and not can_manage(principal, row):
        raise Banned("you were removed from this session by the host")
    return row


async def require_not_banned(tx: AsyncSession, principal: Principal, session: SessionRow) -> None:
    """:class:`Banned` when the host removed ``principal`` from ``session`` (for callers that
    reached the session another way than :func:`load_session`, e.g. by a recording id)."""
    if can_manage(principal, session):
        return
    found = await tx.scalar(
        select(BanRow.id).where(
            BanRow.session_id == session.id, BanRow.user_id == principal.user_id
        )
    )
    if found is not None:
        raise Banned("you were removed from this session by the host")


async def is_enrolled(tx: AsyncSession, session_id: str, user_id: str) -> bool:
    found = await tx.scalar(
        select(EnrollmentRow.id).where(
            EnrollmentRow.session_id == session_id,
            EnrollmentRow.user_id == user_id,
            EnrollmentRow.status == EnrollmentStatus.ACTIVE.value,
        )
    )
    return found is not None


def require_manage(principal: Principal, row: SessionRow, action: str) -> None:
    """:class:`Forbidden` unless ``principal`` is the session's instructor or a tenant admin."""
    if not can_manage(principal, row):
        raise Forbidden(
            f"only the session's instructor or a tenant admin may {action} it",
            code="not_session_owner",
        )
