"""Room members for the cross-node tests: the package's :class:`~signaling.client.RoomClient`
that, like the browser client, resumes (``resume`` + ``lastSeq``) through the load balancer when
its node goes away (1001); and, for tests on raw connections, :func:`next_of`.

A :class:`Member` keeps every ``chat`` it received (by id, with a count, so a duplicate shows),
the close codes it was sent and the welcomes it got; :meth:`Member.chat` sends a message and
returns its id once acked. All waits are bounded.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx
from websockets.asyncio.client import ClientConnection

from signaling.client import GOING_AWAY, Inbox, RoomClient, decode_frame
from signaling.client.frames import Message

__all__ = [
    "GOING_AWAY",
    "Member",
    "live_session",
    "messages",
    "next_of",
    "room_token",
    "take_unread",
]

messages = decode_frame

#: Messages of a batched frame not read yet, per connection: the server may put several
#: messages in one frame (a welcome and the replay after it), and each must reach a later
#: ``next_of`` instead of being dropped with the frame.
_unread: weakref.WeakKeyDictionary[ClientConnection, Inbox] = weakref.WeakKeyDictionary()


async def next_of(ws: ClientConnection, kind: str, within: float = 30.0) -> Message:
    """The next message of type ``kind`` on a raw connection (the ones before it are passed
    over; the ones after it in its frame are kept for the next call)."""
    unread = _unread.setdefault(ws, Inbox())
    async with asyncio.timeout(within):
        while True:
            message = unread.take(lambda m: True)
            while message is not None:
                if message["type"] == kind:
                    return message
                message = unread.take(lambda m: True)
            unread.add(decode_frame(await ws.recv()))


def take_unread(ws: ClientConnection) -> list[Message]:
    """The messages :func:`next_of` read from ``ws`` but did not return (they came in the
    same frame as the one it was waiting for), removed."""
    unread = _unread.pop(ws, None)
    return unread.drain() if unread else []


async def room_token(http: httpx.AsyncClient, base: str, sid: str, who: dict[str, str]) -> str:
    response = await http.post(f"{base}/api/v1/sessions/{sid}/token", headers=who)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def live_session(
    http: httpx.AsyncClient, base: str, teacher: dict[str, str], capacity: int
) -> str:
    created = await http.post(
        f"{base}/api/v1/sessions",
        json={"title": "Cross-node class", "maxParticipants": capacity},
        headers=teacher,
    )
    assert created.status_code == 201, created.text
    sid = str(created.json()["id"])
    started = await http.post(f"{base}/api/v1/sessions/{sid}/start", headers=teacher)
    assert started.status_code == 200, started.text
    return sid


class Member(RoomClient):
    """One participant. ``url`` is where it connects and resumes: the balancer's ``/ws``
    (:meth:`join` may connect elsewhere first)."""

    def __init__(self, name: str, token: str, url: str) -> None:
        super().__init__(url, token, name=name, resume_url=url)

    @property
    def closed_for_good(self) -> bool:
        return self.close_code is not None
