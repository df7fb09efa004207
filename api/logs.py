"""Logging: plain text or JSON lines, request and connection ids, and no secrets.

``LIVECLASS_LOG_FORMAT=json`` writes one JSON object per line::

    {"ts": "2026-11-23T11:40:00.123Z", "level": "INFO", "logger": "liveclass.api",
     "message": "...", "requestId": "9f1c...", "connectionId": "c_3a9e..."}

``requestId`` is the request's ``X-Request-Id`` (taken from the client or a proxy when it is a
sane token, generated otherwise, and always echoed in the response); ``connectionId`` names a
WebSocket connection (``signaling/log_context.py``). Both also appear in text lines.

Secrets never reach the output: a filter on the handler rewrites every record, so bearer
tokens, ``token=``/``resume=``/``signature=`` query values (uvicorn logs WebSocket URLs with
their query string), ``whsec_`` webhook secrets and JWT-shaped strings are replaced by
``[redacted]``, whoever logged them.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signaling.log_context import connection_id

__all__ = [
    "REQUEST_ID_HEADER",
    "ContextFilter",
    "JsonFormatter",
    "RedactSecrets",
    "RequestIdMiddleware",
    "assign_request_id",
    "configure_logging",
    "redact",
    "request_id",
]

REQUEST_ID_HEADER = "X-Request-Id"
request_id: ContextVar[str | None] = ContextVar("liveclass_request_id", default=None)

_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_SECRETS = [
    # A credential, not an English word ("bearer tokens are ..."): it holds a digit or
    # punctuation, or is long.
    (
        re.compile(r"(?i)\b(bearer)\s+(?=[A-Za-z]*[0-9\-._~+/]|[A-Za-z]{20})[A-Za-z0-9\-._~+/]+=*"),
        r"\1 [redacted]",
    ),
    (
        re.compile(
            r"(?i)([?&;\s]|^)(token|resume|signature|secret|access_token|password)=[^&\s\"']+"
        ),
        r"\1\2=[redacted]",
    ),
    (re.compile(r"whsec_[A-Za-z0-9_\-]+"), "whsec_[redacted]"),
    # A JWT anywhere else (three base64url parts, the first one a JSON header).
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"), "[redacted-jwt]"),
]


#: What each of the patterns above needs to match (one search, not four substitutions, for
#: the lines with none: most of them, "websocket joined as participant ..." once a join).
_MAYBE_SECRET = re.compile(r"(?i)bearer|=|whsec_|eyJ")


def redact(text: str) -> str:
    """``text`` with every token and secret it holds replaced by ``[redacted]``."""
    if _MAYBE_SECRET.search(text) is None:
        return text
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Formats the message once and redacts it (and the exception text) in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log it as it is
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``connection_id`` (or None) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.connection_id = connection_id.get()
        return True


#: Line breaks and other control characters: in a text line they would let input (a
#: percent-decoded path, a name) start a forged log line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


class TextFormatter(logging.Formatter):
    """One line per record (plus its traceback): control characters in the message are
    written escaped (``\\n``), so nothing a client sends can forge a line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return _CONTROL.sub(_escaped, super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = []
        rid, cid = getattr(record, "request_id", None), getattr(record, "connection_id", None)
        if rid:
            ids.append(f"request={rid}")
        if cid:
            ids.append(f"conn={cid}")
        if not ids:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{' '.join(ids)}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        body: dict[str, Any] = {
            "ts": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid, cid = getattr(record, "request_id", None), getattr(record, "connection_id", None)
        if rid:
            body["requestId"] = rid
        if cid:
            body["connectionId"] = cid
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            body["exception"] = record.exc_text
        return json.dumps(body, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str) -> logging.Handler:
    """Send every logger (uvicorn's included) through one stderr handler in format ``fmt``
    (``text`` or ``json``); returns the handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactSecrets())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # No record needs the thread's or process's name (neither format shows them): looking
    # them up was a quarter of a record's making, on every line (a join logs one).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    return handler


def assign_request_id(scope: Scope) -> str:
    """Set this request's or WebSocket's id for the log lines it causes: the client's
    ``X-Request-Id`` when it is a sane one, a new one otherwise."""
    incoming = ""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            incoming = value.decode("latin-1")
            break
    rid = incoming if _SANE_ID.match(incoming) else secrets.token_hex(16)
    # Not reset afterwards: each connection runs in its own task (its own context), and
    # the outermost error handler, which logs unexpected errors, runs after this returns.
    request_id.set(rid)
    return rid


class RequestIdMiddleware:
    """Gives every HTTP request and WebSocket a request id (``X-Request-Id`` in and out)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = assign_request_id(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        await self.app(scope, receive, send_with_id)
