"""The id of the WebSocket connection a log line belongs to.

``/ws`` sets it when a connection is accepted; everything that runs for that connection (its
reader task and what the hub does on its behalf) inherits it through ``contextvars``, and the
log formatter (``api/logs.py``) adds it to every line as ``connectionId``.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar

__all__ = ["connection_id", "new_connection_id"]

connection_id: ContextVar[str | None] = ContextVar("liveclass_connection_id", default=None)


def new_connection_id() -> str:
    return "c_" + secrets.token_hex(6)
