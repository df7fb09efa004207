"""One mapping from liveclass errors to HTTP, and the JSON error shape everywhere.

Every error response is ``{"error": {"code", "message", "details"?}}``: the domain's typed
errors, the framework's own 404/405, bad JSON, validation failures, and unexpected exceptions
(logged with an id; the response shows the id, never a traceback).
"""

from __future__ import annotations

import logging
import math
import secrets
from pathlib import Path
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Route

from api.logs import REQUEST_ID_HEADER, request_id
from api.responses import JSONResponse
from rooms import errors as e
from rooms.store.availability import database_unavailable

__all__ = ["STATUS_BY_ERROR", "error_response", "exception_handlers", "status_of"]

log = logging.getLogger("liveclass.api")

STATUS_BY_ERROR: list[tuple[type[e.LiveclassError], int]] = [
    (e.ValidationFailed, 422),
    (e.BadRequest, 400),
    (e.Unauthorized, 401),
    (e.PaymentRequired, 402),
    (e.Forbidden, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.PayloadTooLarge, 413),
    (e.UnsupportedMediaType, 415),
    (e.RateLimited, 429),
    (e.Unavailable, 503),
]

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


def status_of(error: e.LiveclassError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 500


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _liveclass_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.LiveclassError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, e.RateLimited) and exc.retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return error_response(status, exc.code, exc.message, exc.details, headers)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404:
        if _wants_a_page(request):
            return FileResponse(_NOT_FOUND_PAGE, status_code=404, media_type="text/html")
        message = f"no route for {request.method} {request.url.path}"
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
        allowed = _allowed_methods(request)
        if allowed:
            # Each method of a path is its own Route, and Starlette names only the first
            # one's methods; RFC 9110 wants all of them.
            headers = {**(headers or {}), "Allow": allowed}
    return error_response(exc.status_code, code, message, headers=headers)


_NOT_FOUND_PAGE = Path(__file__).parent / "web" / "static" / "404.html"


def _wants_a_page(request: Request) -> bool:
    """A person's browser following a link (not an API client): it gets a page, not JSON."""
    return (
        request.method == "GET"
        and not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
    )


def _allowed_methods(request: Request) -> str:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))


async def _backing_service_down(request: Request, exc: Exception) -> Response:
    """The database or Redis did not answer: 503, so clients and balancers retry later."""
    log.warning(
        "backing service unavailable on %s %s: %s",
        request.method,
        request.url.path,
        exc.__class__.__name__,
    )
    return error_response(
        503,
        "unavailable",
        "a backing service is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )


async def _db_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    if database_unavailable(exc):
        return await _backing_service_down(request, exc)
    return await _unexpected(request, exc)


async def _client_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away before its request body was complete: nothing to answer, and
    not a server error (the response is dropped by the server)."""
    log.info("client went away mid-request on %s %s", request.method, request.url.path)
    return error_response(400, "client_disconnected", "the request body was not complete")


async def _unexpected(request: Request, exc: Exception) -> Response:
    error_id = secrets.token_hex(8)
    log.error(
        "unhandled error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc
    )
    rid = request_id.get()
    return error_response(
        500,
        "internal_error",
        f"something went wrong on our side; quote error id {error_id} when reporting it",
        {"errorId": error_id},
        # This handler runs outside the request-id middleware: echo the id here too.
        headers={REQUEST_ID_HEADER: rid} if rid else None,
    )


exception_handlers: dict[Any, Any] = {
    e.LiveclassError: _liveclass_error,
    ClientDisconnect: _client_disconnect,
    HTTPException: _http_exception,
    # Connection-level failures of PostgreSQL/SQLite and Redis (not query errors).
    DBAPIError: _db_error,
    RedisConnectionError: _backing_service_down,
    RedisTimeoutError: _backing_service_down,
    ConnectionError: _backing_service_down,
    TimeoutError: _backing_service_down,
    Exception: _unexpected,
}
