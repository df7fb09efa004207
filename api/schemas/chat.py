"""Chat history."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.base import Out, Query

__all__ = ["MessageList", "MessageOut", "MessageQuery", "SenderOut"]


class SenderOut(Out):
    id: str
    name: str
    role: str


class MessageOut(Out):
    id: str
    seq: int
    sessionId: str
    from_: SenderOut = Field(serialization_alias="from")
    text: str
    ts: datetime


class MessageList(Out):
    messages: list[MessageOut]
    hasMore: bool
    nextCursor: int | None = Field(description="Pass as `after` to read newer messages.")
    prevCursor: int | None = Field(description="Pass as `before` to read older messages.")


class MessageQuery(Query):
    after: int | None = Field(default=None, ge=0, le=2**62)
    before: int | None = Field(default=None, ge=0, le=2**62)
    limit: int = Field(default=50, ge=1, le=200)
