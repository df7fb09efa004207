"""Validated inputs of the domain operations, in the API's wire names (camelCase).

``api`` uses these models as request bodies (and for the OpenAPI document); the services take
them as they are. Rules that need configuration (the longest allowed session) are checked by
the services, the rest here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from rooms.ids import is_uuid
from rooms.model import MAX_PARTICIPANTS, SessionType

__all__ = [
    "EnrollmentRequest",
    "FeedbackRequest",
    "MessageDraft",
    "RecordingLinkRequest",
    "SessionDraft",
    "SessionPatch",
]

MAX_METADATA_BYTES = 16 * 1024


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps need a timezone (for example 2025-11-01T08:00:00Z)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    if value.year > 9998:  # the schedule arithmetic must not overflow
        raise ValueError("timestamp out of range (it must be before the year 9999)")
    return value


def _not_an_id(value: str) -> str:
    if is_uuid(value):
        raise ValueError("a room name cannot look like a session id (a UUID)")
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
RoomName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,62}$"), AfterValidator(_not_an_id)
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
HttpUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url)]
Price = Annotated[Decimal, Field(ge=0, le=Decimal("1000000000"), max_digits=12, decimal_places=2)]
Capacity = Annotated[int, Field(ge=1, le=MAX_PARTICIPANTS)]
ShortId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class SessionDraft(_Input):
    """A new session. Without a schedule it starts now and lasts an hour."""

    title: Title
    description: Description = ""
    sessionType: SessionType = SessionType.GROUP
    roomName: RoomName | None = Field(
        default=None, description="Unique within the tenant; generated from the title if absent."
    )
    scheduledStart: AwareDatetime | None = None
    scheduledEnd: AwareDatetime | None = None
    maxParticipants: Capacity = 100
    price: Price = Decimal("0")
    currency: Currency | None = None
    thumbnail: HttpUrl | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    featured: bool = False
    requiresEnrollment: bool = Field(
        default=False,
        description="Free sessions are open to the whole tenant unless this is set; "
        "paid sessions always require enrollment.",
    )
    courseId: ShortId | None = None

    _metadata = field_validator("metadata")(_check_metadata)

    @model_validator(mode="after")
    def _consistent(self) -> SessionDraft:
        if self.scheduledStart and self.scheduledEnd and self.scheduledEnd <= self.scheduledStart:
            raise ValueError("scheduledEnd must be after scheduledStart")
        if self.price > 0 and not self.currency:
            raise ValueError("a paid session needs a currency")
        return self


class SessionPatch(_Input):
    """A partial update: only the fields present change. ``null`` clears optional fields."""

    title: Title | None = None
    description: Description | None = None
    sessionType: SessionType | None = None
    scheduledStart: AwareDatetime | None = None
    scheduledEnd: AwareDatetime | None = None
    maxParticipants: Capacity | None = None
    price: Price | None = None
    currency: Currency | None = None
    thumbnail: HttpUrl | None = None
    metadata: dict[str, Any] | None = None
    featured: bool | None = None
    requiresEnrollment: bool | None = None
    courseId: ShortId | None = None

    _metadata = field_validator("metadata")(_check_metadata)

    @model_validator(mode="after")
    def _not_null(self) -> SessionPatch:
        required = ("title", "sessionType", "scheduledStart", "scheduledEnd", "maxParticipants")
        for name in (*required, "price", "featured", "requiresEnrollment", "description"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class EnrollmentRequest(_Input):
    """Payment details; required (``paymentId``) for paid sessions."""

    paymentId: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    paymentGateway: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")] | None = None
    amountPaid: Price | None = None


class FeedbackRequest(_Input):
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, StringConstraints(max_length=5000)] | None = None


class MessageDraft(_Input):
    text: Annotated[str, StringConstraints(max_length=100_000)]


class RecordingLinkRequest(_Input):
    """Register a recording stored elsewhere (object storage, a CDN)."""

    recordingUrl: Annotated[str, StringConstraints(max_length=2048)]

    @field_validator("recordingUrl")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://", "s3://", "gs://")):
            raise ValueError("recordingUrl must be an http(s), s3:// or gs:// URL")
        if any(ch.isspace() or ord(ch) < 32 for ch in value):
            raise ValueError("recordingUrl may not contain spaces or control characters")
        return value
