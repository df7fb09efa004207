"""Decoding the messages of a room tool that the core protocol does not know (the waiting
room, private questions): the same checks and the same ``invalid_message`` error as
``signaling/teaching_protocol.py``. No I/O."""

from __future__ import annotations

from typing import Annotated, Any

import msgpack
from pydantic import (
    BaseModel,
    ConfigDict,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from rooms.untrusted import InputRefused, check_tree, parse_json
from signaling.protocol import Codec, ProtocolError

__all__ = ["Rid", "ToolMessage", "decode_tool"]

Rid = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ToolMessage(BaseModel):
    """A tool's request: unknown fields are ignored, ``rid`` answered by ``ack``/``error``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rid: Rid | None = None


def decode_tool(
    frame: bytes | str, codec: Codec, types: frozenset[str], adapter: TypeAdapter[Any]
) -> Any | None:
    """The message in ``frame`` (already size-checked by ``protocol.decode``) validated by
    ``adapter``; None when its type is not one of ``types``; :class:`ProtocolError`
    (``invalid_message``, with the fields at fault) for bad fields."""
    try:
        if codec is Codec.JSON:
            data = parse_json(frame)
        else:
            data = msgpack.unpackb(frame, raw=False, strict_map_key=True, max_bin_len=0)
            check_tree(data)
    except (InputRefused, ValueError, TypeError, msgpack.UnpackException, RecursionError):
        return None  # protocol.decode already said what is wrong with it
    if not isinstance(data, dict) or data.get("type") not in types:
        return None
    raw_rid = data.get("rid")
    rid = raw_rid if isinstance(raw_rid, str) and 0 < len(raw_rid) <= 64 else None
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        details: list[JsonValue] = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise ProtocolError(
            "invalid_message", f"invalid {data['type']} message", rid=rid, details=details
        ) from exc
