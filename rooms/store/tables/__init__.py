"""The tables of liveclass, with the constraints that keep the data honest.

- ``sessions``: unique room name per tenant; status and session type checked; 1..500 seats;
  ``enrolled_count`` never exceeds ``max_participants`` (the enrollment seat cap relies on it);
  the scheduled window is non-empty; price is never negative.
- ``enrollments``: at most one *active* enrollment per user and session (partial unique index);
  ``refund_due`` marks paid ones cancelled with their session; one payment pays for at most
  one active enrollment of its tenant.
- ``feedback``: one rating (1..5) per user and session, by enrollees and attendees.
- ``session_bans``: users the host kicked; one row per user and session.
- ``attendance``: one row per join, closed by its leave; watch time derives from these rows.
- ``chat_messages``: ordered by a per-session ``seq``, unique within the session.
- ``polls`` and ``poll_votes``: a session's polls and quizzes (rooms/polls.py), one vote per
  user and poll (the last one counts).
- ``participant_activity``: per user and session, hands raised and seconds spoken
  (rooms/activity.py); one row each, never negative.
- ``questions``: students' private questions to the teacher (rooms/questions.py), with the
  host's answer or dismissal.
- ``recordings``: uploaded files, external links and server recordings, with their status.
- ``schedules``: scheduled slots, each linked to the session it opens once there is one.
- ``waitlist``: users waiting for a seat of a full session, at most once each at a time.
- ``webhook_endpoints`` (per tenant), ``webhook_events`` (the outbox), ``webhook_deliveries``
  (one per event and endpoint: status, attempts, lease) and ``webhook_attempts`` (the log).

Every child row of a session belongs to it (foreign key, deleted with it); webhook rows belong
to a tenant, and deliveries and attempts to their event and endpoint.
"""

from rooms.store.tables.base import Base
from rooms.store.tables.room import (
    ActivityRow,
    AttendanceRow,
    ChatMessageRow,
    PollRow,
    PollVoteRow,
    QuestionRow,
    RecordingRow,
)
from rooms.store.tables.sessions import (
    BanRow,
    EnrollmentRow,
    FeedbackRow,
    ScheduleRow,
    SessionRow,
    WaitlistRow,
)
from rooms.store.tables.webhooks import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)

__all__ = [
    "ActivityRow",
    "AttendanceRow",
    "BanRow",
    "Base",
    "ChatMessageRow",
    "EnrollmentRow",
    "FeedbackRow",
    "PollRow",
    "PollVoteRow",
    "QuestionRow",
    "RecordingRow",
    "ScheduleRow",
    "SessionRow",
    "WaitlistRow",
    "WebhookAttemptRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "WebhookEventRow",
]
