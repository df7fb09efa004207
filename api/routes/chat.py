"""Session chat over REST: history (cursor paging) and posting."""

from __future__ import annotations

from starlette.responses import Response

from api.actions import post_message as post_action
from api.endpoint import Api, Call
from api.schemas import MessageList, MessageOut, MessageQuery
from api.views import message_out
from rooms.errors import ValidationFailed
from rooms.inputs import MessageDraft

api = Api("/api/v1")
TAGS = ["chat"]


@api.route(
    "GET",
    "/sessions/{ref}/messages",
    summary="Chat history",
    tags=TAGS,
    query=MessageQuery,
    response=MessageList,
    errors=(403, 404),
)
async def list_messages(call: Call) -> MessageList:
    """Oldest first. Without a cursor: the latest ``limit`` messages. ``after=<seq>`` reads
    newer messages (catching up), ``before=<seq>`` older ones (scrolling back)."""
    q: MessageQuery = call.query
    if q.after is not None and q.before is not None:
        raise ValidationFailed("use after or before, not both")
    page = await call.services.chat.history(
        call.user, call.path("ref"), after=q.after, before=q.before, limit=q.limit
    )
    messages = [message_out(m) for m in page.messages]
    return MessageList(
        messages=messages,
        hasMore=page.has_more,
        nextCursor=messages[-1].seq if messages else q.after,
        prevCursor=messages[0].seq if messages else None,
    )


@api.route(
    "POST",
    "/sessions/{ref}/messages",
    summary="Post a chat message",
    tags=TAGS,
    status=201,
    body=MessageDraft,
    response=MessageOut,
    errors=(403, 404, 409, 429),
)
async def post_message(call: Call) -> MessageOut:
    """Persisted before it is returned (and broadcast to the room by the hub). The session
    must be live; text is trimmed and limited to LIVECLASS_CHAT_MAX_CHARS characters. The
    sender's chat rate limit is the one their WebSocket chat draws on too
    (LIVECLASS_CHAT_RATE_PER_SECOND, LIVECLASS_CHAT_BURST, across every node): 429 with
    Retry-After past it."""
    draft: MessageDraft = call.body
    return message_out(await post_action(call.services, call.user, call.path("ref"), draft.text))


@api.route(
    "DELETE",
    "/sessions/{ref}/messages/{mid}",
    summary="Delete a chat message",
    tags=TAGS,
    status=204,
    errors=(403, 404),
)
async def delete_message(call: Call) -> Response:
    """The session's instructor or a tenant admin removes a message from the history."""
    await call.services.chat.delete(call.user, call.path("ref"), call.path("mid"))
    return Response(status_code=204)
