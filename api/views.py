"""Turning domain objects into response bodies."""

from __future__ import annotations

from datetime import UTC, datetime

from api.links import absolute
from api.schemas.chat import MessageOut, SenderOut
from api.schemas.enrollment import EnrollmentOut
from api.schemas.recordings import AccessLinkOut, RecordingOut
from api.schemas.room import ParticipantOut
from api.schemas.sessions import InstructorOut, SessionOut
from api.services import Services
from rooms.media_types import download_name
from rooms.model import RecordingSource
from rooms.presence import PresenceEntry
from rooms.session_reads import SessionView
from rooms.store.tables import ChatMessageRow, EnrollmentRow, RecordingRow, SessionRow
from rooms.store.types import utcnow

__all__ = [
    "enrollment_out",
    "message_out",
    "participant_out",
    "recording_out",
    "session_out",
]


def _live_seconds(row: SessionRow) -> int | None:
    if row.started_at is None:
        return None
    end = row.ended_at or utcnow()
    return max(0, int((end - row.started_at).total_seconds()))


def session_out(view: SessionView, base: str) -> SessionOut:
    """``base``: the public address links are built on (:func:`api.links.public_base`)."""
    row, perms = view.row, view.permissions
    return SessionOut(
        id=row.id,
        roomName=row.room_name,
        tenantId=row.tenant_id,
        title=row.title,
        description=row.description,
        sessionType=row.session_type,
        courseId=row.course_id,
        status=row.status,
        instructor=InstructorOut(
            id=row.instructor_id, name=row.instructor_name, avatar=row.instructor_avatar
        ),
        instructorId=row.instructor_id,
        scheduledStart=row.scheduled_start,
        scheduledEnd=row.scheduled_end,
        scheduledDuration=int((row.scheduled_end - row.scheduled_start).total_seconds() // 60),
        startedAt=row.started_at,
        endedAt=row.ended_at,
        cancelledAt=row.cancelled_at,
        duration=_live_seconds(row),
        maxParticipants=row.max_participants,
        enrolledCount=row.enrolled_count,
        seatsAvailable=max(0, row.max_participants - row.enrolled_count),
        activeCount=view.active_count,
        attendedCount=view.attended_count,
        price=float(row.price),
        currency=row.currency,
        isFree=row.price == 0,
        requiresEnrollment=row.requires_enrollment or row.price > 0,
        thumbnail=row.thumbnail,
        metadata=row.meta or {},
        featured=row.featured,
        recordingUrl=absolute(base, row.recording_url),
        recordingAvailable=row.recording_url is not None,
        joinUrl=f"{base}/classroom/{row.id}",
        createdAt=row.created_at,
        updatedAt=row.updated_at,
        canEdit=perms.can_edit,
        canStart=perms.can_start,
        canEnd=perms.can_end,
        canCancel=perms.can_cancel,
        canJoin=perms.can_join,
        canEnroll=perms.can_enroll,
        isInstructor=perms.is_instructor,
        isEnrolled=perms.is_enrolled,
    )


def enrollment_out(row: EnrollmentRow, session: SessionRow | None = None) -> EnrollmentOut:
    return EnrollmentOut(
        id=row.id,
        sessionId=row.session_id,
        userId=row.user_id,
        userName=row.user_name,
        status=row.status,
        enrolledAt=row.enrolled_at,
        cancelledAt=row.cancelled_at,
        paid=row.paid,
        paymentId=row.payment_id,
        paymentGateway=row.payment_gateway,
        amountPaid=float(row.amount_paid) if row.amount_paid is not None else None,
        currency=row.currency,
        refundDue=bool(row.refund_due),
        enrolledCount=session.enrolled_count if session else None,
        seatsAvailable=(
            max(0, session.max_participants - session.enrolled_count) if session else None
        ),
    )


def participant_out(entry: PresenceEntry) -> ParticipantOut:
    return ParticipantOut(
        id=entry.participant_id,
        userId=entry.user_id,
        name=entry.name,
        role=entry.role.value,
        source=entry.source,
        joinedAt=datetime.fromtimestamp(entry.joined_at_ms / 1000, UTC),
    )


def message_out(row: ChatMessageRow) -> MessageOut:
    return MessageOut(
        id=row.id,
        seq=row.seq,
        sessionId=row.session_id,
        from_=SenderOut(id=row.user_id, name=row.user_name, role=row.role),
        text=row.text,
        ts=row.created_at,
    )


def recording_out(row: RecordingRow, services: Services, base: str) -> RecordingOut:
    """``base``: the public address links are built on (:func:`api.links.public_base`)."""
    if row.source == RecordingSource.LINK.value and row.external_url:
        download = row.external_url
        access = AccessLinkOut(url=row.external_url, expiresAt=None)
    else:
        download = base + services.recordings.download_path(row.id)
        path = f"/api/v1/recordings/{row.id}/file"
        expires, signature = services.links.sign(path, services.settings.access_link_ttl_seconds)
        access = AccessLinkOut(
            url=f"{base}{path}?expires={expires}&signature={signature}",
            expiresAt=datetime.fromtimestamp(expires, UTC),
        )
    return RecordingOut(
        id=row.id,
        sessionId=row.session_id,
        source=row.source,
        status=row.status,
        # As downloaded (rows stored before names were checked may hold "evil.html").
        filename=download_name(row.filename, row.content_type)
        if row.filename and row.content_type
        else row.filename,
        contentType=row.content_type,
        size=row.size_bytes,
        duration=row.duration_seconds,
        startedAt=row.started_at,
        stoppedAt=row.stopped_at,
        createdAt=row.created_at,
        url=download,
        downloadLink=download,
        accessLink=access,
    )
