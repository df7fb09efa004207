"""What a published track shows: a participant's camera (with their microphone) or a screen
they share (with its audio, if any).

Subscribers learn it from the stream id in ``a=msid``: a camera's tracks keep the plain
participant id (what clients always relied on), a screen's are ``<participant id>:screen``,
so a browser puts them in separate ``MediaStream`` objects and can lay them out apart. A relay
worker reads the source back from the stream id it is offered.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["SOURCES", "Source", "parse_stream_id", "stream_id"]

Source = Literal["camera", "screen"]
SOURCES: tuple[Source, ...] = get_args(Source)

_SCREEN_SUFFIX = ":screen"


def stream_id(publisher_id: str, source: Source) -> str:
    """The msid stream id of ``publisher_id``'s ``source`` tracks."""
    return publisher_id + _SCREEN_SUFFIX if source == "screen" else publisher_id


def parse_stream_id(value: str) -> tuple[str, Source]:
    """(publisher id, source) of an msid stream id made by :func:`stream_id`."""
    if value.endswith(_SCREEN_SUFFIX):
        return value[: -len(_SCREEN_SUFFIX)], "screen"
    return value, "camera"
