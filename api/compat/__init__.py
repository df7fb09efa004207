"""The seed APIs: the five API documents existing apps already call (``../shared/seeds``),
each served at its own paths by a thin adapter over the one domain in ``rooms``.

- ``LIVECLASS_COMPAT_DAILY``: 000, the Daily.co app: ``/sessions``,
  ``/sessions/{sessionName}/...``, ``/scheduled-sessions`` (daily.py, daily_schedules.py);
- ``LIVECLASS_COMPAT_HMS``: 001, the 100ms yoga app: ``/api/live/sessions`` (hms.py);
- ``LIVECLASS_COMPAT_BOOKINGS``: 002, the bookings app: ``/api/live-sessions`` (bookings.py);
- ``LIVECLASS_COMPAT_TUTORING``: 003, the Jitsi tutoring app: ``/sessions/{id}/messages``,
  ``/sessions/{id}/recordings`` (tutoring.py);
- ``LIVECLASS_COMPAT_LIVE_CLASSES``: 004, live classes: ``/live-classes`` (live_classes.py).

Every one is on by default.

Paths: the Daily (000) and tutoring (003) seeds share ``/sessions/{x}``; their paths never
overlap (``/sessions/{x}`` and ``/token``, ``/recording``, ``/start-recording``,
``/stop-recording`` against ``/messages`` and ``/recordings``), and both take a room name or a
session id for ``{x}``. None collides with ``/api/v1``, ``/ws``, the pages (``/``,
``/classroom/...``, ``*.html``, ``/static``) or ``/dev``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from api.compat import bookings, daily, daily_schedules, hms, live_classes, tutoring
from api.settings import Settings

__all__ = ["routes"]


def routes(settings: Settings) -> list[BaseRoute]:
    """The routes of every seed API ``settings`` switches on."""
    found: list[BaseRoute] = []
    if settings.compat_daily:
        found.extend(daily.api.routes())
        found.extend(daily_schedules.api.routes())
    if settings.compat_tutoring:
        found.extend(tutoring.api.routes())
    if settings.compat_hms:
        found.extend(hms.api.routes())
    if settings.compat_bookings:
        found.extend(bookings.api.routes())
    if settings.compat_live_classes:
        found.extend(live_classes.api.routes())
    return found
