"""Students' microphones, for the host: mute everyone, and lock them muted."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.endpoint import Api, Call
from api.routes.polls import session_for
from rooms.errors import Forbidden

api = Api("/api/v1")
TAGS = ["room"]


class MicLockOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locked: bool = Field(description="Students' microphones stay muted until unlocked.")


class MuteAllRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lock: bool = Field(default=False, description="Also lock the microphones muted.")


@api.route(
    "GET",
    "/sessions/{ref}/mic-lock",
    summary="Whether students' microphones are locked",
    tags=TAGS,
    response=MicLockOut,
    errors=(403, 404),
)
async def get_mic_lock(call: Call) -> MicLockOut:
    session, _ = await session_for(call)
    return MicLockOut(locked=await call.services.hub.teaching.mic_lock.locked(session.id))


@api.route(
    "PUT",
    "/sessions/{ref}/mic-lock",
    summary="Lock or unlock students' microphones",
    tags=TAGS,
    body=MicLockOut,
    response=MicLockOut,
    errors=(403, 404),
)
async def put_mic_lock(call: Call) -> MicLockOut:
    """The session's instructor or a tenant admin; the room gets ``mic-lock``."""
    session, host = await session_for(call)
    if not host:
        raise Forbidden("only the host locks microphones", code="not_session_owner")
    body: MicLockOut = call.body
    await call.services.hub.teaching.set_mic_lock(session.id, body.locked, None)
    return body


@api.route(
    "POST",
    "/sessions/{ref}/mute-all",
    summary="Mute every student",
    tags=TAGS,
    body=MuteAllRequest,
    body_optional=True,
    response=MicLockOut,
    errors=(403, 404),
)
async def mute_all(call: Call) -> MicLockOut:
    """The session's instructor or a tenant admin: every student's client mutes its
    microphone (``mute-all``); with ``lock`` they cannot unmute until unlocked."""
    session, host = await session_for(call)
    if not host:
        raise Forbidden("only the host mutes everyone", code="not_session_owner")
    body: MuteAllRequest = call.body or MuteAllRequest()
    teaching = call.services.hub.teaching
    await teaching.mute_all(session.id, body.lock, None)
    return MicLockOut(locked=await teaching.mic_lock.locked(session.id))
