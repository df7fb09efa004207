"""The webhook events liveclass emits, and the ``data`` each one carries.

Every event body is::

    {"id": "<uuid>", "type": "session.started", "createdAt": "2026-11-23T11:00:00.000Z",
     "tenant": "acme", "data": {...}}

``id`` is unique per event and identical across retries (receivers deduplicate on it); the
same id is sent as the ``Liveclass-Event-Id`` header. ``data`` holds the object the event is
about, in the REST API's wire names. Fields are only ever added.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from rooms.presence import PresenceEntry
from rooms.store.tables import EnrollmentRow, RecordingRow, SessionRow

__all__ = [
    "EventType",
    "enrollment_data",
    "enrollment_fields",
    "entry_data",
    "iso",
    "participant_data",
    "recording_data",
    "session_data",
]


class EventType(StrEnum):
    SESSION_STARTED = "session.started"
    SESSION_ENDED = "session.ended"
    SESSION_CANCELLED = "session.cancelled"
    SESSION_UPDATED = "session.updated"
    SESSION_REMINDER = "session.reminder"
    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_LEFT = "participant.left"
    ENROLLMENT_CREATED = "enrollment.created"
    WAITLIST_PROMOTED = "waitlist.promoted"
    RECORDING_STARTED = "recording.started"
    RECORDING_READY = "recording.ready"
    RECORDING_FAILED = "recording.failed"


def iso(value: datetime | None) -> str | None:
    """A UTC timestamp as the API shows it (milliseconds, ``Z``)."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_data(row: SessionRow) -> dict[str, Any]:
    return {
        "session": {
            "id": row.id,
            "roomName": row.room_name,
            "title": row.title,
            "status": row.status,
            "instructorId": row.instructor_id,
            "instructorName": row.instructor_name,
            "maxParticipants": row.max_participants,
            "scheduledStart": iso(row.scheduled_start),
            "scheduledEnd": iso(row.scheduled_end),
            "startedAt": iso(row.started_at),
            "endedAt": iso(row.ended_at),
            "cancelledAt": iso(row.cancelled_at),
        }
    }


def participant_data(
    session_id: str,
    *,
    participant_id: str,
    user_id: str,
    name: str,
    role: str,
    source: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "sessionId": session_id,
        "participant": {
            "id": participant_id,
            "userId": user_id,
            "name": name,
            "role": role,
            "source": source,
        },
        "at": iso(at),
    }


def entry_data(session_id: str, entry: PresenceEntry, at: datetime) -> dict[str, Any]:
    return participant_data(
        session_id,
        participant_id=entry.participant_id,
        user_id=entry.user_id,
        name=entry.name,
        role=entry.role.value,
        source=entry.source,
        at=at,
    )


def enrollment_data(row: EnrollmentRow) -> dict[str, Any]:
    return {"sessionId": row.session_id, "enrollment": enrollment_fields(row)}


def enrollment_fields(row: EnrollmentRow) -> dict[str, Any]:
    # No e-mail address: receivers look users up by id in their own platform.
    return {
        "id": row.id,
        "userId": row.user_id,
        "userName": row.user_name,
        "status": row.status,
        "enrolledAt": iso(row.enrolled_at),
        "paid": row.paid,
        "paymentId": row.payment_id,
        "paymentGateway": row.payment_gateway,
        "amountPaid": float(row.amount_paid) if row.amount_paid is not None else None,
        "currency": row.currency,
        "cancelledAt": iso(row.cancelled_at),
        "refundDue": bool(row.refund_due),
    }


def recording_data(row: RecordingRow) -> dict[str, Any]:
    return {
        "sessionId": row.session_id,
        "recording": {
            "id": row.id,
            "source": row.source,
            "status": row.status,
            "filename": row.filename,
            "contentType": row.content_type,
            "sizeBytes": row.size_bytes,
            "durationSeconds": row.duration_seconds,
            "externalUrl": row.external_url,
            "startedAt": iso(row.started_at),
            "stoppedAt": iso(row.stopped_at),
            "error": row.error,
        },
    }
