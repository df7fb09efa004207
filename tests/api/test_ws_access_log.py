"""The WebSocket access lines (uvicorn's handshake line with the room token, websockets'
"connection open" and "connection closed"): off by default, and then never made into a
record at all (making one just to drop it cost ~3 % of a join storm); on with
``ws_access_log``. Every other line of the WebSocket protocol still gets through."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api.ws_access_log import (
    NoWebSocketAccessLog,
    WithoutAccessLines,
    drop_access_lines,
    is_access_line,
)
from tests.api.test_connection_limits import Node, make_node  # noqa: F401  (the fixture)

ACCESS_LINES = [
    '%s - "WebSocket %s" [accepted]',
    '%s - "WebSocket %s" 403',
    '%s - "WebSocket %s" %d',
    "connection open",
    "connection closed",
]


class Seen(logging.Filter):
    """Every record a logger makes (a logger's filters see each record it makes)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.messages.append(record.msg)
        return True


@contextlib.contextmanager
def seen_by(logger: logging.Logger) -> Iterator[Seen]:
    seen = Seen()
    # First: a server built earlier in this process left its filter on uvicorn's logger.
    logger.filters.insert(0, seen)
    try:
        yield seen
    finally:
        logger.removeFilter(seen)


def test_the_adapter_drops_the_access_lines_only() -> None:
    logger = logging.getLogger("test.ws_access_log")
    logger.setLevel(logging.DEBUG)
    quiet = WithoutAccessLines(logger)
    assert quiet.level == logging.DEBUG
    with seen_by(logger) as seen:
        for line in ACCESS_LINES:
            assert is_access_line(line)
            quiet.info(line, "127.0.0.1:1", "/ws?token=t", 200)
        quiet.info("connection rejected (%d %s)", 403, "Forbidden")
        quiet.error("ASGI callable returned without completing handshake.")
        quiet.debug("= connection is %s", "OPEN")
    assert seen.messages == [
        "connection rejected (%d %s)",
        "ASGI callable returned without completing handshake.",
        "= connection is %s",
    ]


async def _connect_and_leave(node: Node) -> None:
    """A WebSocket without a token: accepted, told why, closed (every access line)."""
    async with connect(f"ws://127.0.0.1:{node.port}/ws") as ws:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()


@pytest.mark.parametrize("access_log", [False, True])
async def test_the_server_makes_access_lines_only_when_asked(
    make_node: Callable[..., contextlib.AbstractAsyncContextManager[Node]],  # noqa: F811
    access_log: bool,
) -> None:
    with seen_by(logging.getLogger("uvicorn.error")) as seen:
        async with make_node(ws_access_log=access_log) as node:
            await _connect_and_leave(node)
        # The server has stopped: whatever it logged for the connection is in.
    made = [m for m in seen.messages if is_access_line(m)]
    if access_log:
        # ("connection closed" only when the client's close frame came first.)
        assert {'%s - "WebSocket %s" [accepted]', "connection open"} <= set(made)
    else:
        assert made == []


def test_servers_built_one_after_another_leave_one_filter_or_none() -> None:
    logger = logging.getLogger("test.ws_access_log.filters")
    for _ in range(3):
        drop_access_lines(logger, drop=True)
    assert sum(isinstance(f, NoWebSocketAccessLog) for f in logger.filters) == 1
    drop_access_lines(logger, drop=False)
    assert not any(isinstance(f, NoWebSocketAccessLog) for f in logger.filters)
