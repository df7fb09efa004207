"""WebSocket close codes of the liveclass protocol, and the one mapping from domain errors.

The codes are :class:`~rooms.protocol_models.CloseCode` (an ``IntEnum``: each compares equal
to its number); the module-level names are kept for callers.

====  ===========================================================================
code  meaning
====  ===========================================================================
1000  normal closure (you left, or the room ended after ``room-ended``)
1001  this node is going away: reconnect (with your resume token), maybe elsewhere
1002  protocol error (no supported subprotocol)
1011  unexpected server error
1013  try again later (a backing service is unavailable)
4000  replaced by a newer connection of the same user
4001  unauthorized: missing, invalid or expired room token
4003  forbidden, or kicked by the host (also on every later attempt)
4004  no such room
4400  bad request: the URL's parameters are not valid (``lastSeq``)
4008  too slow: the client did not read its messages fast enough
4009  room full
4010  room not live (not started yet, or ended)
4029  rate limited: too many messages, repeatedly
====  ===========================================================================
"""

from __future__ import annotations

from rooms import errors
from rooms.protocol_models import CloseCode

__all__ = [
    "BAD_REQUEST",
    "FINAL",
    "FORBIDDEN",
    "GOING_AWAY",
    "INTERNAL_ERROR",
    "MEANINGS",
    "NORMAL",
    "NOT_FOUND",
    "NOT_LIVE",
    "PROTOCOL_ERROR",
    "RATE_LIMITED",
    "REASONS",
    "REPLACED",
    "ROOM_FULL",
    "TOO_SLOW",
    "TRY_AGAIN",
    "UNAUTHORIZED",
    "CloseCode",
    "close_code_for",
]

NORMAL = CloseCode.NORMAL
GOING_AWAY = CloseCode.GOING_AWAY
PROTOCOL_ERROR = CloseCode.PROTOCOL_ERROR
INTERNAL_ERROR = CloseCode.INTERNAL_ERROR
TRY_AGAIN = CloseCode.TRY_AGAIN
REPLACED = CloseCode.REPLACED
UNAUTHORIZED = CloseCode.UNAUTHORIZED
FORBIDDEN = CloseCode.FORBIDDEN
NOT_FOUND = CloseCode.NOT_FOUND
BAD_REQUEST = CloseCode.BAD_REQUEST
TOO_SLOW = CloseCode.TOO_SLOW
ROOM_FULL = CloseCode.ROOM_FULL
NOT_LIVE = CloseCode.NOT_LIVE
RATE_LIMITED = CloseCode.RATE_LIMITED


#: Close codes after which reconnecting cannot help: a client stops for good.
FINAL: frozenset[CloseCode] = frozenset(
    {NORMAL, PROTOCOL_ERROR, REPLACED, FORBIDDEN, NOT_FOUND, ROOM_FULL, NOT_LIVE, BAD_REQUEST}
)

#: Why a connection ended for good, in a word, by final close code (and 4001, which a client
#: with a fresh token may retry).
REASONS: dict[CloseCode, str] = {
    NORMAL: "left",
    PROTOCOL_ERROR: "protocol_unsupported",
    REPLACED: "replaced",
    UNAUTHORIZED: "unauthorized",
    FORBIDDEN: "forbidden",
    NOT_FOUND: "not_found",
    ROOM_FULL: "room_full",
    NOT_LIVE: "not_live",
    BAD_REQUEST: "bad_request",
}


#: What each close code tells a client (README and docs/protocol.md are generated from it).
MEANINGS: dict[CloseCode, str] = {
    NORMAL: "you left, or the room ended (after `room-ended`)",
    GOING_AWAY: "the node is going away (shutdown, or your presence was lost): reconnect with "
    "your resume token",
    PROTOCOL_ERROR: "no supported subprotocol offered",
    INTERNAL_ERROR: "server error: try again",
    TRY_AGAIN: "a backing service is unavailable: try again",
    REPLACED: "replaced by a newer connection of the same user",
    UNAUTHORIZED: "missing, invalid or expired room token",
    FORBIDDEN: "forbidden, or kicked by the host",
    NOT_FOUND: "no such room",
    TOO_SLOW: "too slow: you did not read your messages (reconnect and resume)",
    ROOM_FULL: "room full",
    NOT_LIVE: "room not live (not started yet, or ended)",
    RATE_LIMITED: "rate limited, repeatedly",
    BAD_REQUEST: "bad URL parameters: `lastSeq` is not a sequence number (up to 18 digits); "
    "checked before the token",
}


def close_code_for(error: errors.LiveclassError) -> CloseCode:
    """The close code for a domain error that ends a connection attempt."""
    if isinstance(error, errors.Unauthorized):
        return UNAUTHORIZED
    if isinstance(error, errors.Forbidden):
        return FORBIDDEN
    if isinstance(error, errors.NotFound):
        return NOT_FOUND
    if isinstance(error, errors.RoomFull):
        return ROOM_FULL
    if isinstance(error, errors.InvalidState):
        return NOT_LIVE
    if isinstance(error, errors.RateLimited):
        return RATE_LIMITED
    if isinstance(error, errors.Unavailable):
        return TRY_AGAIN
    return INTERNAL_ERROR
