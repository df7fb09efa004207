"""Operations: the health check."""

from __future__ import annotations

from pydantic import Field

from api.schemas.base import Out

__all__ = ["HealthOut"]


class HealthOut(Out):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
