"""Verifying platform bearer tokens (JWT) into a :class:`rooms.identity.Principal`.

Two modes, fixed at start-up, never mixed (which rules out HS/RS key confusion):

- HS256 with a shared secret (``LIVECLASS_JWT_SECRET``; in development the server's own key,
  so ``liveclass token`` mints usable tokens);
- RS256/ES256 with keys from the identity provider's JWKS URL (``LIVECLASS_JWKS_URL``).

Tokens must carry ``sub``, ``name``, ``role`` (instructor | student | admin), ``tenant`` and
``exp``. ``alg: none``, expired, malformed or wrongly signed tokens are 401. Room tokens are not
bearer tokens: they carry the ``liveclass:room`` audience, which this verifier refuses.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt

from rooms.errors import Unauthorized, Unavailable
from rooms.identity import Principal, UserRole
from rooms.untrusted import bad_text

__all__ = ["Authenticator", "mint_platform_token"]

_REQUIRED = ["exp", "sub", "role", "tenant"]


class Authenticator:
    """Turns an ``Authorization`` header into a Principal, or raises Unauthorized."""

    def __init__(
        self,
        *,
        secret: str | None,
        jwks_url: str | None,
        audience: str | None = None,
        issuer: str | None = None,
        leeway_seconds: int = 30,
    ) -> None:
        if (secret is None) == (jwks_url is None):
            raise ValueError("exactly one of secret and jwks_url")
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_seconds

    @property
    def algorithms(self) -> list[str]:
        return ["HS256"] if self._secret is not None else ["RS256", "ES256"]

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthorized("this endpoint needs a bearer token", code="missing_token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'", code="invalid_token")
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Principal:
        try:
            key: Any
            if self._jwks is not None:
                signing = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key = signing.key
            else:
                key = self._secret
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the bearer token has expired", code="token_expired") from exc
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable(
                "the identity provider's keys cannot be fetched right now", code="jwks_unavailable"
            ) from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise Unauthorized("the bearer token is not valid", code="invalid_token") from exc
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    def text(name: str, limit: int) -> str | None:
        value = claims.get(name)
        if value is None:
            return None
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise Unauthorized(f"the token's {name} claim is malformed", code="invalid_claims")
        value = str(value).strip()
        # NUL or a lone surrogate is never part of a name or id (nor storable as text).
        if not value or len(value) > limit or bad_text(value):
            raise Unauthorized(f"the token's {name} claim is malformed", code="invalid_claims")
        return value

    sub = text("sub", 128)
    tenant = text("tenant", 128)
    role_raw = claims.get("role")
    if sub is None or tenant is None:
        raise Unauthorized("the token lacks sub or tenant", code="invalid_claims")
    try:
        role = UserRole(str(role_raw))
    except ValueError as exc:
        raise Unauthorized(
            "the token's role must be instructor, student or admin", code="invalid_claims"
        ) from exc
    return Principal(
        user_id=sub,
        name=text("name", 200) or sub,
        role=role,
        tenant=tenant,
        email=text("email", 320),
        avatar=text("picture", 2048),
    )


def mint_platform_token(
    secret: str,
    *,
    sub: str,
    name: str,
    role: UserRole,
    tenant: str,
    ttl_seconds: int = 3600,
    email: str | None = None,
) -> str:
    """An HS256 bearer token like the identity provider's (development, tests, load tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "name": name,
        "role": role.value,
        "tenant": tenant,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")
