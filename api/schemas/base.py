"""The base classes of every response body and query model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Out", "Query"]


class Out(BaseModel):
    """A response body: serialized by alias (``from``, not ``from_``)."""

    model_config = ConfigDict(serialize_by_alias=True)


class Query(BaseModel):
    """Query parameters: unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore")
