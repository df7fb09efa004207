"""Request body size limits, enforced while the body streams in (not after)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from rooms.errors import PayloadTooLarge

__all__ = ["BodySizeLimit"]


class BodySizeLimit:
    """Refuse bodies larger than ``limit_for(path)`` bytes with 413.

    A declared ``Content-Length`` over the limit is refused before reading anything; a chunked
    body is counted as it arrives and refused the moment it passes the limit (the handler that
    was reading it gets :class:`PayloadTooLarge`, which the error mapping turns into 413).
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    response = error_response(
                        413,
                        "payload_too_large",
                        f"the request body is larger than {limit} bytes",
                        {"limit": limit},
                    )
                    await response(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(
                        f"the request body is larger than {limit} bytes",
                        details={"limit": limit},
                    )
            return message

        await self.app(scope, limited_receive, send)
