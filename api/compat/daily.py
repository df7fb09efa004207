"""Seed 000, the Daily.co app: live sessions addressed by their unique room name.

``POST /sessions``, ``GET|DELETE /sessions/{sessionName}``,
``POST /sessions/{sessionName}/start-recording|stop-recording``,
``GET /sessions/{sessionName}/recording``, ``POST /sessions/{sessionName}/token``.
(The scheduled sessions of the same document are in ``daily_schedules.py``.)

Translation onto the one domain:

- a live session is a liveclass session: ``_id`` and ``roomId`` are its id (the room's id on
  ``/ws``), ``roomName`` its room name, ``instructor`` its instructor's user id,
  ``recordingId`` its latest recording. Daily rooms exist as soon as they are created, so a
  session created here is started at once (the same start as ``POST /api/v1/.../start``);
  deleting a live one ends it first (everyone leaves, attendance is closed), then deletes it.
- ``{sessionName}`` is a room name or a session id, like everywhere in liveclass.
- recordings are the media plane's server recordings (start/stop/get by room name); the
  latest one is "the session's recording". Daily's statuses: ``in-progress`` (recording),
  ``processing``, ``finished`` (ready), ``failed``.
- the meeting token is a liveclass room token whose claims carry ``name``, ``room_name`` and
  ``is_owner`` (true for the instructor).
- errors: ``{"message": "..."}`` with the document's messages; where the document answers
  500 for a missing session (``GET``), liveclass answers 404 (a missing session is not a
  server error).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api import actions
from api.compat._base import SeedApi, SeedCall, iso, json_response, public_base
from api.views import recording_out
from rooms.errors import InvalidState, NotFound
from rooms.inputs import SessionDraft
from rooms.model import RecordingStatus, SessionStatus
from rooms.store.tables import RecordingRow, SessionRow

__all__ = ["api", "render_error"]

_NOT_FOUND = "Session not found"


def render_error(status: int, message: str, code: str) -> Response:
    """The Daily app's error shape: ``{"message": ...}``."""
    return json_response({"message": message}, status)


api = SeedApi(render_error, statuses={InvalidState: 409})

_STATUS = {
    RecordingStatus.RECORDING.value: "in-progress",
    RecordingStatus.PROCESSING.value: "processing",
    RecordingStatus.READY.value: "finished",
    RecordingStatus.FAILED.value: "failed",
}


class _Create(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str
    description: str = ""


class _TokenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    userName: str | None = Field(default=None, min_length=1, max_length=200)


def live_session(row: SessionRow, recording: RecordingRow | None) -> dict[str, Any]:
    return {
        "_id": row.id,
        "roomId": row.id,
        "instructor": row.instructor_id,
        "roomName": row.room_name,
        "title": row.title,
        "description": row.description,
        "recordingId": recording.id if recording else None,
    }


async def _with_recording(call: SeedCall, row: SessionRow) -> dict[str, Any]:
    latest = await call.services.recordings.latest([row.id])
    return live_session(row, latest.get(row.id))


@api.route("POST", "/sessions")
async def create_live_session(call: SeedCall) -> Response:
    body = await call.body(_Create)
    draft = SessionDraft.model_validate({"title": body.title, "description": body.description})
    created = await call.services.sessions.create(call.user, draft)
    view = await actions.transition(call.services, call.user, created.row.id, "start")
    return json_response(live_session(view.row, None), 201)


@api.route("GET", "/sessions/{sessionName}", auth="optional", messages={404: _NOT_FOUND})
async def get_live_session(call: SeedCall) -> Response:
    view = await call.services.sessions.read(
        call.reader_tenant(), call.path("sessionName"), call.principal
    )
    return json_response(await _with_recording(call, view.row))


@api.route(
    "DELETE",
    "/sessions/{sessionName}",
    messages={404: _NOT_FOUND, 403: "Not authorized to delete session:{sessionName}"},
)
async def delete_live_session(call: SeedCall) -> Response:
    ref = call.path("sessionName")
    view = await call.services.sessions.get(call.user, ref)
    body = await _with_recording(call, view.row)
    if view.row.status == SessionStatus.LIVE.value:
        await actions.transition(call.services, call.user, ref, "end")
    await actions.delete_session(call.services, call.user, ref)
    return json_response(body)


@api.route(
    "POST",
    "/sessions/{sessionName}/start-recording",
    messages={404: _NOT_FOUND, 403: "Not authorized to record session:{sessionName}"},
)
async def start_recording(call: SeedCall) -> Response:
    row = await call.services.server_recordings.start(call.user, call.path("sessionName"))
    return json_response({"recordingId": row.id, "startedAt": iso(row.started_at, millis=True)})


@api.route(
    "POST",
    "/sessions/{sessionName}/stop-recording",
    messages={
        404: _NOT_FOUND,
        403: "Not authorized to stop recording session:{sessionName}",
    },
)
async def stop_recording(call: SeedCall) -> Response:
    row = await call.services.server_recordings.stop(call.user, call.path("sessionName"))
    duration = None
    if row.started_at is not None and row.stopped_at is not None:
        duration = round((row.stopped_at - row.started_at).total_seconds())
    return json_response(
        {
            "recordingId": row.id,
            "stoppedAt": iso(row.stopped_at, millis=True),
            "duration": duration,
        }
    )


@api.route(
    "GET",
    "/sessions/{sessionName}/recording",
    messages={403: "Not authorized to stop recording session:{sessionName}"},
)
async def get_recording(call: SeedCall) -> Response:
    try:
        _, rows = await call.services.recordings.for_session(call.user, call.path("sessionName"))
    except NotFound as exc:
        raise NotFound(_NOT_FOUND, code=exc.code) from exc
    if not rows:
        raise NotFound("This session has not been recorded", code="recording_not_found")
    out = recording_out(rows[-1], call.services, public_base(call))
    duration = out.duration
    return json_response(
        {
            "recordingId": out.id,
            "startedAt": iso(out.startedAt, millis=True),
            "stoppedAt": iso(out.stoppedAt, millis=True),
            "duration": round(duration) if duration is not None else None,
            "status": _STATUS.get(out.status, out.status),
            "downloadLink": out.downloadLink,
            "accessLink": {
                "url": out.accessLink.url,
                "expiresAt": iso(out.accessLink.expiresAt, millis=True),
            },
        }
    )


@api.route(
    "POST",
    "/sessions/{sessionName}/token",
    messages={404: _NOT_FOUND},
)
async def session_token(call: SeedCall) -> Response:
    body = await call.body(_TokenRequest, optional=True)
    issued = await actions.issue_room_token(
        call.services, call.user, call.path("sessionName"), body.userName
    )
    return json_response({"token": issued.token})
