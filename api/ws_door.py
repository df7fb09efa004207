"""The WebSocket front door: the hub's ``/ws`` connections skip the HTTP middleware stack.

Every layer of an ASGI stack stays suspended, with its frame and closures, for as long as its
call lasts: milliseconds for an HTTP request, an hour for a class's WebSocket. Starlette's
stack (request id, metrics, security headers, CORS, the body limit, the exception middleware,
the router, the route and its exception wrapper) does nothing for a WebSocket but set the
request id, yet held about 6 KiB of every idle connection (issue 18, measured with
tracemalloc). :class:`LiveclassApp` hands ``/ws`` straight to the hub's endpoint and does the
two things the stack did for it: the request id for the log and the direct write path
(signaling/wire.py). Everything else, other WebSocket paths included, goes the ordinary way.
It also has the endpoint tell it when each join ends, and notes each connection closing, so
the C heap is trimmed once a burst of joins or leaves settles (api/heap.py).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from api.heap import HeapTrimmer
from api.logs import assign_request_id
from signaling.endpoint import JOINED_KEY, websocket_endpoint
from signaling.wire import tap

__all__ = ["HUB_PATH", "LiveclassApp"]

#: Where clients connect to the hub.
HUB_PATH = "/ws"


class LiveclassApp(Starlette):
    """The Starlette application, with the hub's WebSocket taken at the door."""

    #: Trims the C heap once a burst of hub connections opening or closing settles
    #: (api/heap.py); made on the first connection.
    heap_trimmer: HeapTrimmer | None = None
    _note_joined: Callable[[], None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and _route_path(scope) == HUB_PATH:
            scope["app"] = self  # what Starlette's own __call__ sets: the endpoint reads state
            assign_request_id(scope)
            tap(scope, send)
            trimmer = self.heap_trimmer
            if trimmer is None:
                trimmer = self.heap_trimmer = HeapTrimmer()
                self._note_joined = trimmer.note  # one bound method for every scope
            extensions = scope.get("extensions")
            if extensions is None:
                scope["extensions"] = extensions = {}
            extensions[JOINED_KEY] = self._note_joined
            try:
                await websocket_endpoint(WebSocket(scope, receive, send))
            finally:
                trimmer.note()
            return
        await super().__call__(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the router would match: without the ``root_path`` a proxy mounted us under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
