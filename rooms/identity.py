"""Who is calling: the verified identity a request or connection acts as.

liveclass never sees passwords: identities come from the platform's identity provider as JWT
claims (``sub``, ``name``, ``role``, ``tenant``), verified by ``api``. The domain only ever
receives a :class:`Principal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Principal", "UserRole"]


class UserRole(StrEnum):
    """A platform role, from the identity provider's ``role`` claim."""

    INSTRUCTOR = "instructor"
    STUDENT = "student"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified user of one tenant. Nothing of another tenant is ever visible to it."""

    user_id: str
    name: str
    role: UserRole
    tenant: str
    email: str | None = None
    avatar: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN

    @property
    def can_teach(self) -> bool:
        """Instructors and tenant admins may create and run sessions."""
        return self.role in (UserRole.INSTRUCTOR, UserRole.ADMIN)
