"""Seed 003, the Jitsi tutoring app's missing backend: session chat and recordings.

``GET|POST /sessions/{id}/messages``, ``GET|POST /sessions/{id}/recordings``; ``{id}`` is a
liveclass session's id or room name.

- messages are the session's chat (the same history the room's WebSocket chat writes and
  ``/api/v1/.../messages`` reads), oldest first: ``{id, from, text, created_at}`` where
  ``from`` is the sender's name. Posting needs the session to be live (409 otherwise) and the
  caller admitted to its room; the room gets the message at once. The whole history is
  returned (at most ``MAX_HISTORY`` messages, the latest; ``?after=<seq>`` reads on from a
  message's ``seq``).
- recordings are liveclass recordings: a tutor (instructor) uploads a ``file`` as
  ``multipart/form-data`` (201 ``{id, url}``, ``url`` the download link); the list gives every
  recording of the session, uploads, links and server recordings alike, with the fields of
  the document's table (``file_url``, ``file_size_bytes``, ``duration_seconds``...).
- errors: the document names none; they are liveclass's JSON errors.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api import actions
from api.compat._base import SeedApi, SeedCall, iso, json_response, public_base
from api.errors import error_response
from api.routes.recordings import store_upload
from api.views import recording_out
from rooms.errors import UnsupportedMediaType
from rooms.inputs import MessageDraft
from rooms.store.tables import ChatMessageRow, RecordingRow

__all__ = ["MAX_HISTORY", "api"]

MAX_HISTORY = 10_000
_PAGE = 500


def render_error(status: int, message: str, code: str) -> Response:
    return error_response(status, code, message)


api = SeedApi(render_error)


class _HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    after: int = Field(default=0, ge=0, le=2**62)


def _message(row: ChatMessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "session_id": row.session_id,
        "user_id": row.user_id,
        "from": row.user_name,
        "text": row.text,
        "created_at": iso(row.created_at),
    }


@api.route("GET", "/sessions/{id}/messages")
async def list_messages(call: SeedCall) -> Response:
    after = call.query(_HistoryQuery).after
    found: list[ChatMessageRow] = []
    while True:
        page = await call.services.chat.history(
            call.user, call.path("id"), after=after, limit=_PAGE
        )
        found.extend(page.messages)
        if not page.has_more or not page.messages:
            break
        after = page.messages[-1].seq
    return json_response([_message(m) for m in found[-MAX_HISTORY:]])


@api.route("POST", "/sessions/{id}/messages")
async def post_message(call: SeedCall) -> Response:
    draft = await call.body(MessageDraft)
    row = await actions.post_message(call.services, call.user, call.path("id"), draft.text)
    return json_response(_message(row), 201)


def _recording(call: SeedCall, row: RecordingRow) -> dict[str, Any]:
    out = recording_out(row, call.services, public_base(call))
    return {
        "id": row.id,
        "url": out.downloadLink,
        "session_id": row.session_id,
        "uploaded_by": row.created_by,
        "file_url": out.downloadLink,
        "file_size_bytes": row.size_bytes,
        "duration_seconds": row.duration_seconds,
        "status": row.status,
        "created_at": iso(row.created_at),
    }


@api.route("POST", "/sessions/{id}/recordings")
async def upload_recording(call: SeedCall) -> Response:
    if not call.request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedMediaType("send multipart/form-data with a file")
    stored = await store_upload(call.request, call.services, call.user, call.path("id"))
    return json_response({**_recording(call, stored.recording)}, 201)


@api.route("GET", "/sessions/{id}/recordings")
async def list_recordings(call: SeedCall) -> Response:
    _, rows = await call.services.recordings.for_session(call.user, call.path("id"))
    return json_response([_recording(call, r) for r in rows])
