"""How liveclass meets the platform it serves: webhooks, the seed APIs, role names, the
default tenant, start reminders and payment verification. A part of
:class:`api.settings.Settings` (which reads them from ``LIVECLASS_*`` variables)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from rooms.identity import DEFAULT_ROLE_MAP, UserRole
from rooms.webhooks.backoff import Backoff

__all__ = ["PlatformSettings"]


class PlatformSettings(BaseModel):
    """The knobs of the platform integration (see the README's configuration table)."""

    # Webhooks (rooms/webhooks): delivery from the SQL outbox by every node.
    webhooks_dispatch: bool = Field(
        default=True, description="Run the webhook dispatcher in this process."
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=20, ge=1, le=50)
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0, le=3600)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    webhook_poll_interval_seconds: float = Field(default=1.0, ge=0.01, le=60)
    webhook_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    webhook_concurrency: int = Field(default=8, ge=1, le=256)
    webhook_retention_days: float = Field(
        default=30, gt=0, le=3650, description="Finished deliveries are kept this long."
    )
    # The seed APIs (api/compat): each served at its own paths, all on by default.
    compat_daily: bool = Field(
        default=True, description="Seed 000: /sessions/{roomName}... and /scheduled-sessions."
    )
    compat_hms: bool = Field(default=True, description="Seed 001: /api/live/sessions.")
    compat_bookings: bool = Field(default=True, description="Seed 002: /api/live-sessions.")
    compat_tutoring: bool = Field(
        default=True, description="Seed 003: /sessions/{id}/messages and /recordings."
    )
    compat_live_classes: bool = Field(default=True, description="Seed 004: /live-classes.")
    role_map: dict[str, UserRole] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_MAP),
        description="Role names of the platform's tokens (as the seed apps name them) and the "
        "liveclass role each one acts as; instructor, student and admin always map to "
        "themselves.",
    )
    default_tenant: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The tenant of bearer tokens without a tenant claim (single-school "
        "apps whose tokens name none); unset: such tokens are refused.",
    )
    reminder_lead_minutes: float = Field(
        default=15,
        ge=0,
        le=7 * 24 * 60,
        description="A session.reminder webhook goes out this long before a class starts "
        "(0: no reminders).",
    )
    reminder_interval_seconds: float = Field(default=30, gt=0, le=3600)
    payment_verify_url: str | None = Field(
        default=None,
        description="The platform's endpoint that confirms each payment of an enrollment with "
        "its payment provider (rooms/payments.py); unset: payments are recorded as stated.",
    )
    payment_verify_secret: str | None = Field(
        default=None, description="Signs the verification requests (Liveclass-Signature)."
    )
    payment_verify_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    def webhook_backoff(self) -> Backoff:
        return Backoff(
            base_seconds=self.webhook_retry_base_seconds,
            cap_seconds=self.webhook_retry_max_seconds,
            max_attempts=self.webhook_max_attempts,
        )
