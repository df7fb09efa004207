"""Webhook signatures: HMAC-SHA256 over a timestamp and the exact body (Stripe's scheme).

Each delivery carries::

    Liveclass-Signature: t=1763895600,v1=5257a869e7ec...(64 hex digits)
    Liveclass-Event-Id: 0d9f...          (the event's id; the same on every retry)

``v1`` is ``hex(HMAC_SHA256(secret, f"{t}.{body}"))`` where ``body`` is the raw request body
bytes. A receiver recomputes it with the endpoint's secret, compares in constant time, and
refuses a ``t`` further than its tolerance (default 300 s) from its own clock, so a captured
request cannot be replayed later. ``t`` is the time of the attempt, not of the event: a retry
an hour later is signed afresh. The header may carry several ``v1`` values (any may match).

:func:`verify` is the reference implementation of the receiver's side (the tests use it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "InvalidSignature",
    "new_secret",
    "sign",
    "signature_header",
    "verify",
]

SIGNATURE_HEADER = "Liveclass-Signature"
EVENT_ID_HEADER = "Liveclass-Event-Id"
EVENT_TYPE_HEADER = "Liveclass-Event-Type"
DEFAULT_TOLERANCE_SECONDS = 300


class InvalidSignature(ValueError):
    """The signature header is missing, malformed, stale, or does not match."""


def new_secret() -> str:
    """A fresh endpoint secret (shown to the tenant admin once)."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Liveclass-Signature`` value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check a ``Liveclass-Signature`` header; returns its timestamp or raises
    :class:`InvalidSignature`."""
    if not header:
        raise InvalidSignature("no signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("malformed signature header")
    if abs(now - timestamp) > tolerance_seconds:
        raise InvalidSignature("timestamp outside the tolerance (replayed or clock skew)")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise InvalidSignature("signature does not match")
    return timestamp
