"""Bearer tokens as the seed apps' identity providers issue them: their own role names
(``expert``, ``training_manager``, ``org_admin``...), mapped by LIVECLASS_ROLE_MAP."""

from __future__ import annotations

from api.auth import mint_platform_token
from rooms.identity import DEFAULT_ROLE_MAP, UserRole
from tests.conftest import JWT_SECRET

__all__ = ["seed_bearer"]


def seed_bearer(
    sub: str, role: str, tenant: str = "acme", *, name: str | None = None, email: str | None = None
) -> dict[str, str]:
    """``Authorization`` header for a user whose token carries the seed's role name."""
    mapped = DEFAULT_ROLE_MAP.get(role) or UserRole(role)
    token = mint_platform_token(
        JWT_SECRET,
        sub=sub,
        name=name or sub.title(),
        role=mapped,
        tenant=tenant,
        email=email,
        role_name=role,
    )
    return {"Authorization": f"Bearer {token}"}
