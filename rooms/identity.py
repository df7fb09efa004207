"""Who is calling: the verified identity a request or connection acts as.

liveclass never sees passwords: identities come from the platform's identity provider as JWT
claims (``sub``, ``name``, ``role``, ``tenant``), verified by ``api``. The domain only ever
receives a :class:`Principal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DEFAULT_ROLE_MAP", "Principal", "UserRole"]


class UserRole(StrEnum):
    """A platform role, from the identity provider's ``role`` claim."""

    INSTRUCTOR = "instructor"
    STUDENT = "student"
    ADMIN = "admin"


#: Role names the seed apps' tokens carry, and the liveclass role each acts as (the default
#: of ``LIVECLASS_ROLE_MAP``; liveclass's own three names always map to themselves).
DEFAULT_ROLE_MAP: dict[str, UserRole] = {
    "expert": UserRole.INSTRUCTOR,
    "tutor": UserRole.INSTRUCTOR,
    "teacher": UserRole.INSTRUCTOR,
    "trainer": UserRole.INSTRUCTOR,
    "training_manager": UserRole.INSTRUCTOR,
    "org_admin": UserRole.ADMIN,
    "participant": UserRole.STUDENT,
    "learner": UserRole.STUDENT,
    "user": UserRole.STUDENT,
}


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
