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

Each delivery is also signed per the Standard Webhooks specification
(:func:`standard_headers`), so receivers can use its published verifier libraries::

    webhook-id: 0d9f...                  (the event's id, as above)
    webhook-timestamp: 1763895600
    webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=

``v1,`` is followed by ``base64(HMAC_SHA256(key, f"{id}.{timestamp}.{body}"))``, the key being
the base64 after the secret's ``whsec_`` prefix, decoded (:func:`new_secret` makes 32 random
bytes). Secrets made before this scheme (URL-safe characters) still sign both headers; the
Standard Webhooks libraries decode them the same way, but rotating them is cleaner.
"""

from __future__ import annotations

import base64
import binascii
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
    "standard_headers",
    "verify",
]

SIGNATURE_HEADER = "Liveclass-Signature"
EVENT_ID_HEADER = "Liveclass-Event-Id"
EVENT_TYPE_HEADER = "Liveclass-Event-Type"
DEFAULT_TOLERANCE_SECONDS = 300


class InvalidSignature(ValueError):
    """The signature header is missing, malformed, stale, or does not match."""


def new_secret() -> str:
    """A fresh endpoint secret (shown to the tenant admin once): ``whsec_`` and the base64 of
    32 random bytes, as Standard Webhooks libraries expect."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _standard_key(secret: str) -> bytes:
    """The HMAC key Standard Webhooks verifiers derive from ``secret``: the base64 after the
    ``whsec_`` prefix, decoded leniently as their reference libraries do."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    except (binascii.Error, ValueError):
        key = b""
    return key or secret.encode()


def standard_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers (``webhook-id``, ``-timestamp``, ``-signature``) for
    ``body`` sent at ``timestamp`` as message ``message_id`` (the event's id)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


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
