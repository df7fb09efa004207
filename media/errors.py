"""The media plane's one exception type.

Every refusal the router makes to a caller (bad SDP, unsupported codecs, an unknown participant,
an answer with no offer pending, a closed router) is a :class:`MediaError` with a stable ``code``
the worker can hand back to the client as a ``signal`` error. Anything else escaping the router
is a bug. It derives from the one root of liveclass's errors, ``rooms.errors.BaseError``.
"""

from __future__ import annotations

from rooms.errors import BaseError

__all__ = ["MediaError"]


class MediaError(BaseError):
    """A refused media operation.

    ``code`` is one of ``invalid_sdp``, ``unsupported_media``, ``unknown_participant``,
    ``no_offer_pending``, ``stale_answer`` (the answer names an offer no longer pending),
    ``invalid_candidate``, ``closed``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)

    def __repr__(self) -> str:
        return f"MediaError({self.code!r}, {self.message!r})"
