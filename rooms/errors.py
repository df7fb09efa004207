"""The typed errors of liveclass.

Every failure a caller can act on is one of these; ``api`` maps them to an HTTP status once
(``api/errors.py``) and ``signaling`` maps them to a WebSocket close code once.

Every error liveclass raises on purpose derives from :class:`BaseError` (a stable ``code``, a
human ``message``, optional ``details``). It has three branches, each handled in one place:
``LiveclassError`` (the domain's refusals below), ``signaling.protocol.ProtocolError`` (a frame
the server cannot accept, answered with an ``error`` message) and ``media.errors.MediaError``
(a refused media operation, answered with a ``signal`` error). The root lives here because
``rooms`` is the one package every other may import. ``except LiveclassError`` catches the
domain branch only, as before. The domain branch::

    LiveclassError                 code                      HTTP  WS close
    ├── BadRequest                 invalid_request           400   4400 (error message)
    │   └── ValidationFailed       validation_failed         422
    ├── Unauthorized               unauthorized              401   4001
    ├── PaymentRequired            payment_required          402
    ├── Forbidden                  forbidden                 403   4003
    │   └── Banned                 banned                    403   4003
    ├── NotFound                   not_found                 404   4004
    ├── Conflict                   conflict                  409
    │   ├── InvalidState           invalid_state             409   4010 (room not live)
    │   ├── RoomFull               room_full                 409   4009
    │   └── AlreadyExists          already_exists            409
    ├── PayloadTooLarge            payload_too_large         413
    ├── UnsupportedMediaType       unsupported_media_type    415
    ├── RateLimited                rate_limited              429   4029
    └── Unavailable                unavailable               503   1013

``code`` is stable and machine-readable; subclasses may refine it (``RoomFull`` is a
``Conflict`` whose code is ``room_full``). ``message`` is for humans, ``details`` is optional
JSON-serializable context.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "BadRequest",
    "Banned",
    "BaseError",
    "Conflict",
    "Forbidden",
    "InvalidState",
    "LiveclassError",
    "NotFound",
    "PayloadTooLarge",
    "PaymentRequired",
    "RateLimited",
    "RoomFull",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
    "ValidationFailed",
]


class BaseError(Exception):
    """The root of every error liveclass raises on purpose (domain, protocol, media): a
    stable machine-readable ``code``, a human ``message`` and optional JSON ``details``."""

    def __init__(self, message: str, *, code: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


class LiveclassError(BaseError):
    """Base of the domain's errors (mapped to an HTTP status and a close code once)."""

    default_code: ClassVar[str] = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message, code=code or self.default_code, details=details)

    def as_dict(self) -> dict[str, Any]:
        """The error as the ``error`` member of the JSON error shape."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(LiveclassError):
    default_code = "invalid_request"


class ValidationFailed(BadRequest):
    default_code = "validation_failed"


class Unauthorized(LiveclassError):
    default_code = "unauthorized"


class PaymentRequired(LiveclassError):
    default_code = "payment_required"


class Forbidden(LiveclassError):
    default_code = "forbidden"


class Banned(Forbidden):
    default_code = "banned"


class NotFound(LiveclassError):
    default_code = "not_found"


class Conflict(LiveclassError):
    default_code = "conflict"


class InvalidState(Conflict):
    default_code = "invalid_state"


class RoomFull(Conflict):
    default_code = "room_full"


class AlreadyExists(Conflict):
    default_code = "already_exists"


class PayloadTooLarge(LiveclassError):
    default_code = "payload_too_large"


class UnsupportedMediaType(LiveclassError):
    default_code = "unsupported_media_type"


class RateLimited(LiveclassError):
    default_code = "rate_limited"

    @property
    def retry_after(self) -> float | None:
        """Seconds until trying again can succeed (``details["retryAfter"]``), if known."""
        if isinstance(self.details, dict):
            value = self.details.get("retryAfter")
            if isinstance(value, int | float):
                return float(value)
        return None


class Unavailable(LiveclassError):
    default_code = "unavailable"
