"""Telling "the database did not answer" from "the statement was wrong".

The first is a 503 (and a leave worth queueing): the connection failed or was lost, or the
server refuses work for now — SQLSTATE classes 08 (connection exception), 53 (insufficient
resources: too many connections, out of memory or disk) and 57 (operator intervention: shutting
down, starting up). asyncpg reports the last two as plain database errors, which would
otherwise look like bugs (500).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

__all__ = ["database_unavailable"]

_UNAVAILABLE_CLASSES = ("08", "53", "57")


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_CLASSES
    return isinstance(exc, OSError | TimeoutError)
