"""Recordings and their access links."""

from __future__ import annotations

from datetime import datetime

from api.schemas.base import Out

__all__ = ["AccessLinkOut", "RecordingList", "RecordingOut"]


class AccessLinkOut(Out):
    url: str
    expiresAt: datetime | None


class RecordingOut(Out):
    id: str
    sessionId: str
    source: str
    status: str
    filename: str | None
    contentType: str | None
    size: int | None
    duration: float | None
    startedAt: datetime | None
    stoppedAt: datetime | None
    createdAt: datetime
    url: str
    downloadLink: str
    accessLink: AccessLinkOut


class RecordingList(Out):
    sessionId: str
    recordingUrl: str | None
    recordings: list[RecordingOut]
