"""The bases of the protocol's message models (rooms/protocol_models.py has the contract).

Client models (:class:`ClientModel`) ignore unknown fields (a newer client works with an older
server) and may carry ``rid``; :func:`documented` gives one its docs metadata (who may send
it, what answers it). Server models (:class:`ServerModel`) are built and sent as
:meth:`ServerModel.wire` dicts. Both the core messages (rooms/client_messages.py,
rooms/server_messages.py) and the teaching tools' (rooms/teaching_messages.py) derive from
these, so the two halves of each direction's union share one shape.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "ClientModel",
    "ParticipantRef",
    "Rid",
    "ServerModel",
    "WireMessage",
    "documented",
]

Rid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ParticipantRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]

#: A server message as the encoder takes it: the JSON-shaped dict of a :class:`ServerModel`
#: (also what the bus and the replay log carry between nodes). ``Any`` because this is the
#: encode boundary: what goes in is always a model's :meth:`ServerModel.wire`.
WireMessage = dict[str, Any]


def documented(*, who: str, answer: str) -> ConfigDict:
    """A client model's config with who may send it and what answers it (docs, schema)."""
    return ConfigDict(
        extra="ignore", frozen=True, json_schema_extra={"x-who": who, "x-answer": answer}
    )


class ClientModel(BaseModel):
    """Base of client messages: unknown fields ignored, an optional request id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rid: Rid | None = Field(
        default=None, description="Request id: the server answers with an ack or error."
    )


#: Python field names that differ from their name on the wire (``from`` is a keyword).
_WIRE_NAMES = {"from_": "from"}


class ServerModel(BaseModel):
    """Base of server messages: :meth:`wire` gives the dict the encoder sends."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    def wire(self) -> WireMessage:
        """The message as it goes on the wire: aliases (``from``), ``None`` fields left out.

        Equal to ``model_dump(by_alias=True, exclude_none=True)`` (a test checks it) at a
        fraction of its cost: the hub builds every room message on its delivery path. Nested
        dicts and lists are shared, not copied: a built message is never mutated. A model with
        a nested model field dumps it in its own ``wire`` (:class:`Welcome`).
        """
        names = _WIRE_NAMES
        return {names.get(k, k): v for k, v in self.__dict__.items() if v is not None}
