"""Every request a tool handles is answered: ``ack`` (by the tool) or ``error`` (here).

The tools (teaching, the waiting room, private questions, breakout rooms) each run a request
inside :func:`answering`: a refusal (:class:`~rooms.errors.LiveclassError`) becomes its error
message, any other failure (Redis or the database did not answer) an ``unavailable`` one and a
warning in the log. Nothing escapes to the reader, so the connection stays and the class goes
on; the client may try again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from rooms.errors import LiveclassError
from signaling.connection import Connection
from signaling.protocol import error_message

__all__ = ["UNAVAILABLE", "answering"]

log = logging.getLogger("liveclass.hub")

#: The ``unavailable`` error's text: nothing was done, trying again is safe.
UNAVAILABLE = "a backing service is unavailable; it was not done, try again"


@contextlib.contextmanager
def answering(conn: Connection, request: str, rid: str | None) -> Iterator[None]:
    """Around the handling of one ``request`` (its type, for the log) with id ``rid``: a
    failure is sent to ``conn`` as an ``error`` with that ``rid`` instead of raising."""
    try:
        yield
    except LiveclassError as exc:
        conn.send(error_message(exc.code, exc.message, rid=rid, details=exc.details))
    except Exception as exc:
        log.warning("%s failed: %r", request, exc)
        conn.send(error_message("unavailable", UNAVAILABLE, rid=rid))
