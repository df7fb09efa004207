"""Validated inputs of the webhook configuration API (wire names, camelCase).

Endpoint URLs must be absolute ``http`` or ``https`` URLs with a host (no other scheme is
ever requested: no ``file:``, ``gopher:`` and so on), at most 2048 characters, without
credentials in them. liveclass is self-hosted, so private and loopback addresses are allowed
(an intranet receiver is the normal case); an operator who lets untrusted tenants configure
webhooks should limit the server's egress at the network level.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from rooms.webhooks.events import EventType

__all__ = ["EndpointDraft", "EndpointPatch", "webhook_url"]


def webhook_url(value: str) -> str:
    """``value`` if it is an acceptable webhook URL, else ValueError saying why."""
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials; authenticate with the signature")
    if port == 0:
        raise ValueError("port 0 is not valid")
    return value


WebhookUrl = Annotated[
    str, StringConstraints(min_length=1, max_length=2048), AfterValidator(webhook_url)
]
EventTypes = Annotated[list[EventType], Field(max_length=len(EventType))]
Description = Annotated[str, StringConstraints(max_length=500)]


class EndpointDraft(BaseModel):
    """A new webhook endpoint. ``eventTypes`` empty (the default) subscribes to every type."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    eventTypes: EventTypes = Field(default_factory=list)
    enabled: bool = True
    description: Description | None = None


class EndpointPatch(BaseModel):
    """Changes to an endpoint; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    eventTypes: EventTypes | None = None
    enabled: bool | None = None
    description: Description | None = None
