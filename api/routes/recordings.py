"""Recordings: upload (multipart), register an external link, list, read and download."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from api.endpoint import Api, Call, parse_body
from api.links import absolute
from api.schemas.recordings import RecordingList, RecordingOut
from api.services import Services
from api.views import recording_out
from rooms.errors import (
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from rooms.identity import Principal
from rooms.inputs import RecordingLinkRequest
from rooms.media_types import download_name
from rooms.recordings import StoredRecording

__all__ = ["api", "store_upload"]

api = Api("/api/v1")
TAGS = ["recordings"]

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "durationSeconds": {"type": "number", "minimum": 0},
                },
            }
        },
        "application/json": {"schema": {"$ref": "#/components/schemas/RecordingLinkRequest"}},
    },
}


@api.route(
    "POST",
    "/sessions/{ref}/recordings",
    summary="Upload a recording, or register its URL",
    tags=TAGS,
    status=201,
    response=RecordingOut,
    request_body=_UPLOAD_BODY,
    errors=(400, 403, 404, 409, 413, 415, 422),
)
async def add_recording(call: Call) -> RecordingOut:
    """``multipart/form-data`` with a ``file`` (WebM, MP4, MOV, M4A, Ogg, MP3 or WAV,
    recognized by content; at most LIVECLASS_RECORDING_MAX_BYTES), or JSON
    ``{"recordingUrl": ...}`` for a file stored elsewhere. The session's recordingUrl is set
    by the first recording and never changes (registering a second URL is 409). Instructor or
    tenant admin; the session must be live or ended."""
    services = call.services
    ref = call.path("ref")
    content_type = call.request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        link = parse_body(RecordingLinkRequest, await call.request.body())
        stored = await services.recordings.register_link(call.user, ref, link.recordingUrl)
        return recording_out(stored.recording, services, call.base)
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "send multipart/form-data with a file, or JSON with a recordingUrl"
        )
    stored = await store_upload(call.request, services, call.user, ref)
    return recording_out(stored.recording, services, call.base)


async def store_upload(
    request: Request, services: Services, principal: Principal, ref: str
) -> StoredRecording:
    """Store the ``file`` of a ``multipart/form-data`` request (with an optional
    ``durationSeconds``) as a recording of session ``ref``: 422 without a file, 413 above
    LIVECLASS_RECORDING_MAX_BYTES, 415 for what is not a recording."""
    async with request.form(max_files=1, max_fields=5) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed("the form needs a file field", code="missing_file")
        duration = _duration(form.get("durationSeconds"))
        limit = services.settings.recording_max_bytes
        if _size_of(upload) > limit:
            raise PayloadTooLarge(
                f"the recording is larger than {limit} bytes", details={"limit": limit}
            )
        return await services.recordings.upload(
            principal, ref, upload.file, filename=upload.filename, duration_seconds=duration
        )


def _size_of(upload: UploadFile) -> int:
    if upload.size is not None:
        return upload.size
    position = upload.file.tell()
    size = upload.file.seek(0, 2)
    upload.file.seek(position)
    return size


def _duration(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        seconds = float(str(value))
    except ValueError as exc:
        raise ValidationFailed("durationSeconds must be a number") from exc
    if not 0 <= seconds < 10 * 86_400:
        raise ValidationFailed("durationSeconds is out of range")
    return seconds


@api.route(
    "GET",
    "/sessions/{ref}/recordings",
    summary="List a session's recordings",
    tags=TAGS,
    response=RecordingList,
    errors=(403, 404),
)
async def list_recordings(call: Call) -> RecordingList:
    """Everyone admitted to the session may list them."""
    session, rows = await call.services.recordings.for_session(call.user, call.path("ref"))
    return RecordingList(
        sessionId=session.id,
        recordingUrl=absolute(call.base, session.recording_url),
        recordings=[recording_out(r, call.services, call.base) for r in rows],
    )


@api.route(
    "GET",
    "/recordings/{rid}",
    summary="Get a recording",
    tags=TAGS,
    response=RecordingOut,
    errors=(403, 404),
)
async def get_recording(call: Call) -> RecordingOut:
    """Status, times, size, a downloadLink (needs the bearer token) and an accessLink that
    anybody may use until it expires."""
    stored = await call.services.recordings.get(call.user, call.path("rid"))
    return recording_out(stored.recording, call.services, call.base)


@api.route(
    "DELETE",
    "/recordings/{rid}",
    summary="Delete a recording",
    tags=TAGS,
    status=204,
    errors=(403, 404, 409),
)
async def delete_recording(call: Call) -> Response:
    """The session's instructor or a tenant admin deletes a recording and its file; 409
    ``recording_in_progress`` while a server recording runs."""
    await call.services.recordings.delete(call.user, call.path("rid"))
    return Response(status_code=204)


_FILE = {
    "description": "The file (supports HTTP Range)",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


def _file_response(call: Call, stored: StoredRecording) -> Response:
    row = stored.recording
    path = call.services.recordings.path_of(row)
    if not path.is_file():
        raise NotFound("the recording's file is missing", code="recording_file_missing")
    return FileResponse(
        path,
        # Rows stored before names were checked may say "evil.html": what is served is
        # always an attachment named for its real type.
        media_type=row.content_type or "application/octet-stream",
        filename=download_name(row.filename, row.content_type),
        content_disposition_type="attachment",
    )


@api.route(
    "GET",
    "/recordings/{rid}/download",
    summary="Download a recording",
    tags=TAGS,
    raw_response=_FILE,
    errors=(403, 404),
)
async def download_recording(call: Call) -> Response:
    """The file itself, for callers with a bearer token."""
    stored = await call.services.recordings.get(call.user, call.path("rid"))
    return _file_response(call, stored)


@api.route(
    "GET",
    "/recordings/{rid}/file",
    summary="Download a recording through its signed access link",
    tags=TAGS,
    raw_response=_FILE,
    auth="none",
    errors=(403, 404),
)
async def signed_recording(call: Call) -> Response:
    """No token: the ``expires`` and ``signature`` query parameters of an accessLink. An
    altered or expired link is 403."""
    rid = call.path("rid")
    call.services.links.verify(
        call.request.url.path,
        call.request.query_params.get("expires"),
        call.request.query_params.get("signature"),
    )
    stored = await call.services.recordings.find(rid)
    if stored is None:
        raise NotFound("recording not found", code="recording_not_found")
    return _file_response(call, stored)


@api.route(
    "POST",
    "/sessions/{ref}/recording/start",
    summary="Start recording a live session on its media worker",
    tags=TAGS,
    status=201,
    response=RecordingOut,
    errors=(403, 404, 409, 503),
)
async def start_recording(call: Call) -> RecordingOut:
    """The session's media worker records the room (VP8 + Opus remuxed into WebM, never
    re-encoded) until ``/recording/stop`` or the end of the session. The recording is listed
    with status ``recording`` and becomes ``ready`` (or ``failed``) after it stops; the room
    gets ``recording`` messages. Instructor or tenant admin. 409 ``room_not_live``,
    ``recording_in_progress``; 503 ``sfu_unavailable`` when no media worker is alive."""
    row = await call.services.server_recordings.start(call.user, call.path("ref"))
    return recording_out(row, call.services, call.base)


@api.route(
    "POST",
    "/sessions/{ref}/recording/stop",
    summary="Stop recording a session",
    tags=TAGS,
    status=202,
    response=RecordingOut,
    errors=(403, 404, 409),
)
async def stop_recording(call: Call) -> RecordingOut:
    """The recording goes to ``processing`` while its worker finalizes the file, then
    ``ready`` with its size and duration (poll ``GET /recordings/{rid}``, or wait for the
    room's ``recording`` message). Instructor or tenant admin. 409 ``not_recording``."""
    row = await call.services.server_recordings.stop(call.user, call.path("ref"))
    return recording_out(row, call.services, call.base)
