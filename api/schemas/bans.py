"""Users the host removed from a session."""

from __future__ import annotations

from datetime import datetime

from api.schemas.base import Out

__all__ = ["BanOut", "BansOut"]


class BanOut(Out):
    userId: str
    userName: str
    reason: str | None
    bannedBy: str
    bannedAt: datetime


class BansOut(Out):
    sessionId: str
    bans: list[BanOut]
