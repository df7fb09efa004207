"""The WebSocket access lines (``LIVECLASS_WS_ACCESS_LOG``, off by default): uvicorn's
handshake line (``'"WebSocket /ws?token=..." [accepted]'``, with the room token) and
websockets' ``connection open`` / ``connection closed``, one of each per connection.

Off, they are dropped twice over: :class:`NoWebSocketAccessLog` on the ``uvicorn.error``
logger drops any that reach it, and :class:`WithoutAccessLines` is the logger the server's
WebSocket protocol objects log through, which drops them before a record is made (making
one, to be dropped by a filter, cost ~15 µs a line: 3 % of a join storm's CPU).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

__all__ = ["NoWebSocketAccessLog", "WithoutAccessLines", "drop_access_lines", "is_access_line"]

_OPEN_CLOSE = frozenset(("connection open", "connection closed"))


def is_access_line(msg: object) -> bool:
    """Whether ``msg`` (a record's unformatted message) is a WebSocket access line."""
    return isinstance(msg, str) and (msg in _OPEN_CLOSE or '"WebSocket %s"' in msg)


class NoWebSocketAccessLog(logging.Filter):
    """Drops the WebSocket access lines (see the module's docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not is_access_line(record.msg)


def drop_access_lines(logger: logging.Logger, *, drop: bool) -> None:
    """Put one :class:`NoWebSocketAccessLog` on ``logger`` (``drop``) or none (not
    ``drop``), whatever servers built earlier in this process left there: each server
    build calls this, and filters must not pile up or outlive a server that logs them."""
    for old in [f for f in logger.filters if isinstance(f, NoWebSocketAccessLog)]:
        logger.removeFilter(old)
    if drop:
        logger.addFilter(NoWebSocketAccessLog())


class WithoutAccessLines(logging.LoggerAdapter[logging.Logger]):
    """``logger`` without the WebSocket access lines: they are dropped before a record is
    made; every other line goes to ``logger`` as it is."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, None)

    @property
    def level(self) -> int:
        """The logger's own level (uvicorn reads it to decide on its TRACE lines)."""
        return self.logger.level

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return msg, kwargs  # no ``extra`` of our own

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if not is_access_line(msg):
            super().info(msg, *args, **kwargs)
