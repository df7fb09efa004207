"""The client side of the liveclass room protocol, for bots, integrations, tests and the bench.

:class:`RoomClient` connects with a room token, reads in the background, and keeps what a
participant needs: the welcome, chats by id, the room count, the highest contiguous ``seq``
(so it resumes with ``lastSeq`` when the server goes away with 1001), and acks by ``rid``.
:mod:`signaling.client.frames` is its sans-I/O half (frame decoding, URLs, the unread inbox).
"""

from signaling.client.fast import FastConnection
from signaling.client.frames import (
    GOING_AWAY,
    TRY_AGAIN_LATER,
    Inbox,
    SeqTracker,
    decode_frame,
    encode_message,
    room_url,
)
from signaling.client.room_client import RoomClient

__all__ = [
    "GOING_AWAY",
    "TRY_AGAIN_LATER",
    "FastConnection",
    "Inbox",
    "RoomClient",
    "SeqTracker",
    "decode_frame",
    "encode_message",
    "room_url",
]
