"""Room tokens: short-lived JWTs that admit one user to one session's room.

``POST /sessions/{id}/token`` mints one after checking who may join; the WebSocket hub accepts
nothing else. A room token names one session, one role and the grants that role has. It is
signed with a key derived from the server's secret for this purpose only, and carries the
audience ``liveclass:room``, so a platform bearer token is never a room token and a room token
is never a bearer token.

Besides the grants, a token says, as a Daily meeting token does, which room it is for
(``room_name``) and whether its holder owns the room (``is_owner``: the session's host).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from rooms.errors import Unauthorized
from rooms.model import RoomRole
from rooms.signing import derive_key

__all__ = ["ROOM_AUDIENCE", "RoomGrant", "RoomTokens"]

ROOM_AUDIENCE = "liveclass:room"


@dataclass(frozen=True, slots=True)
class RoomGrant:
    """What a room token allows its holder."""

    session_id: str
    tenant: str
    user_id: str
    name: str
    role: RoomRole
    can_publish: bool
    can_subscribe: bool
    can_chat: bool
    can_moderate: bool
    hidden: bool
    room_name: str | None = None

    @property
    def is_owner(self) -> bool:
        """The holder runs the room (the session's instructor)."""
        return self.role is RoomRole.HOST

    @classmethod
    def for_role(
        cls,
        *,
        session_id: str,
        tenant: str,
        user_id: str,
        name: str,
        role: RoomRole,
        room_name: str | None = None,
    ) -> RoomGrant:
        """The default grants of ``role``: hosts publish and moderate; guests chat and
        subscribe (the host may allow them to publish later); observers watch hidden."""
        return cls(
            session_id=session_id,
            tenant=tenant,
            user_id=user_id,
            name=name,
            role=role,
            can_publish=role is RoomRole.HOST,
            can_subscribe=True,
            can_chat=role.may_chat,
            can_moderate=role is RoomRole.HOST,
            hidden=role is RoomRole.OBSERVER,
            room_name=room_name,
        )

    def grants(self) -> dict[str, bool]:
        return {
            "publish": self.can_publish,
            "subscribe": self.can_subscribe,
            "chat": self.can_chat,
            "moderate": self.can_moderate,
            "hidden": self.hidden,
        }


class RoomTokens:
    """Mints and verifies room tokens with the server's secret."""

    def __init__(
        self, secret: str, *, ttl_seconds: int = 600, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = derive_key(secret, "room-token")
        self._ttl = ttl_seconds
        self._clock = clock

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def mint(self, grant: RoomGrant) -> tuple[str, int]:
        """Returns ``(token, expires_at_unix)``."""
        now = int(self._clock())
        expires = now + self._ttl
        claims: dict[str, Any] = {
            "aud": ROOM_AUDIENCE,
            "sub": grant.user_id,
            "name": grant.name,
            "tenant": grant.tenant,
            "sid": grant.session_id,
            "role": grant.role.value,
            "grants": grant.grants(),
            "is_owner": grant.is_owner,
            "iat": now,
            "exp": expires,
            "jti": secrets.token_urlsafe(12),
        }
        if grant.room_name is not None:
            claims["room_name"] = grant.room_name
        return jwt.encode(claims, self._key, algorithm="HS256"), expires

    def verify(self, token: str) -> RoomGrant:
        """The grant a token carries; :class:`Unauthorized` if forged, expired or malformed."""
        try:
            # Expiry is checked against this signer's clock (the one that minted it).
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=ROOM_AUDIENCE,
                options={
                    "require": ["exp", "sub", "sid", "role", "tenant", "aud"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
            if not isinstance(claims["exp"], int | float) or claims["exp"] + 5 < self._clock():
                raise jwt.ExpiredSignatureError("expired")
            grants = claims.get("grants") or {}
            return RoomGrant(
                session_id=str(claims["sid"]),
                tenant=str(claims["tenant"]),
                user_id=str(claims["sub"]),
                name=str(claims.get("name") or claims["sub"]),
                role=RoomRole(claims["role"]),
                can_publish=bool(grants.get("publish")),
                can_subscribe=bool(grants.get("subscribe", True)),
                can_chat=bool(grants.get("chat")),
                can_moderate=bool(grants.get("moderate")),
                hidden=bool(grants.get("hidden")),
                room_name=str(claims["room_name"]) if claims.get("room_name") else None,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the room token has expired", code="token_expired") from exc
        except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError) as exc:
            raise Unauthorized("the room token is not valid", code="invalid_token") from exc
