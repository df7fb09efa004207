"""HMAC signatures: signed, expiring links and per-purpose keys derived from one secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

from rooms.errors import Forbidden

__all__ = ["LinkSigner", "derive_key"]


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose, so a signature made for one use is worthless for another."""
    return hmac.new(secret.encode(), f"liveclass:{purpose}".encode(), hashlib.sha256).digest()


class LinkSigner:
    """Signs a path with an expiry: ``?expires=<unix>&signature=<b64url>``.

    Anybody holding the link may use it until it expires; altering the path or the expiry
    invalidates the signature.
    """

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key = derive_key(secret, "link")
        self._clock = clock

    def _sign(self, path: str, expires: int) -> str:
        mac = hmac.new(self._key, f"{path}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def sign(self, path: str, ttl_seconds: int) -> tuple[int, str]:
        """Returns ``(expires, signature)`` for ``path``."""
        expires = int(self._clock()) + ttl_seconds
        return expires, self._sign(path, expires)

    def verify(self, path: str, expires: str | None, signature: str | None) -> None:
        """Raise :class:`Forbidden` unless the signature matches and has not expired."""
        if not expires or not signature or not expires.isdigit():
            raise Forbidden("this link is not signed", code="invalid_signature")
        if not hmac.compare_digest(self._sign(path, int(expires)), signature):
            raise Forbidden("this link's signature is not valid", code="invalid_signature")
        if int(expires) < self._clock():
            raise Forbidden("this link has expired", code="link_expired")
