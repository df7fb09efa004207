"""Server → client messages of protocol version 1, built from the models of
rooms/protocol_models.py and returned as their wire dicts, ready for :func:`encode`.

Shapes that clients rely on (fields are only ever added)::

    {"type":"welcome","protocol":1,"participant":{...},"room":{...},"count":42,"seats":40,
     "roster":[...],"resume":"...","seq":17,"grants":{...}}
    {"type":"presence","joined":[{...}],"left":[{...}],"count":43,"seats":41}
    {"type":"count","count":43,"seats":41}
    {"type":"chat","id":"...","seq":42,"from":{"id":"p_..","name":"Ann","role":"guest"},
     "text":"hi","ts":"...Z"}
    {"type":"signal","from":"p_.." | "sfu","kind":"offer"|"answer"|"ice"|"restart",
     "sdp"|"candidate", "offerId" (an SFU offer: echo it in the answer), "connectionId"}
    {"type":"hand","seq":43,"from":{...},"raised":true}
    {"type":"mute-request","kind":"audio","from":{...}}
    {"type":"grants","grants":{"publish":true,...}}
    {"type":"kicked","reason":"..."}
    {"type":"recording","seq":44,"status":"started"|"ready"|"failed","recordingId":"...",
     "duration":5.1,"size":88679 (ready),"reason":"..." (failed)}  (rooms/server_recordings.py)
    {"type":"room-ended","reason":"..."}

A frame from the server carries one message, or a JSON/MessagePack array of messages when
several were waiting for the same connection (clients must accept both).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import JsonValue

from rooms.presence import PresenceEntry
from rooms.protocol_models import (
    ChatDelivery,
    Count,
    Grants,
    HandRaised,
    Kicked,
    MuteRequest,
    ParticipantView,
    Presence,
    RoomEnded,
    ServerSignal,
    Welcome,
    WireMessage,
)

__all__ = [
    "chat_message",
    "count_message",
    "grants_message",
    "hand_message",
    "kicked_message",
    "mute_request_message",
    "participant_view",
    "presence_message",
    "room_ended_message",
    "signal_message",
    "welcome_message",
]


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: A JSON object (a participant view, the room, a sender) inside a server message.
Json = dict[str, JsonValue]
#: Who sent a message (``_sender_view`` in the hub).
SenderView = Mapping[str, str]


def _view(entry: PresenceEntry) -> ParticipantView:
    return ParticipantView(
        id=entry.participant_id,
        userId=entry.user_id,
        name=entry.name,
        role=entry.role.value,
        joinedAt=entry.joined_at_ms,
    )


def participant_view(entry: PresenceEntry) -> Json:
    """A participant as rosters and presence messages show it."""
    return _view(entry).model_dump()


def welcome_message(
    *,
    participant: PresenceEntry,
    room: Json,
    count: int,
    seats: int,
    roster: list[Json] | None,
    resume: str,
    seq: int,
    grants: dict[str, bool],
    resumed: bool,
    protocol: int,
    ice_servers: list[Json],
    reload: dict[str, int] | None = None,
) -> WireMessage:
    return Welcome(
        protocol=protocol,
        participant=_view(participant),
        room=room,
        count=count,
        seats=seats,
        roster=roster,
        resume=resume,
        seq=seq,
        grants=grants,
        resumed=resumed,
        iceServers=ice_servers,
        # A resume whose gap is not replayed: read it from the history (README, Resume).
        reload=reload,
    ).wire()


def presence_message(joined: list[Json], left: list[Json], count: int, seats: int) -> WireMessage:
    return Presence(joined=joined, left=left, count=count, seats=seats).wire()


def count_message(count: int, seats: int) -> WireMessage:
    return Count(count=count, seats=seats).wire()


def chat_message(*, id: str, seq: int, sender: SenderView, text: str, ts: datetime) -> WireMessage:
    """A chat delivery: built once per room message, encoded once per codec (hub fan-out)."""
    return ChatDelivery(id=id, seq=seq, from_=dict(sender), text=text, ts=iso(ts)).wire()


def signal_message(sender: str, kind: str, payload: Json) -> WireMessage:
    return ServerSignal.model_validate({"from": sender, "kind": kind, **payload}).wire()


def sfu_restart_message(reason: str) -> WireMessage:
    """The room's media moved to another worker: drop every connection to the SFU, publish
    again if you were publishing; the SFU then offers you the room's media anew."""
    return ServerSignal(from_="sfu", kind="restart", reason=reason).wire()


def hand_message(seq: int, sender: SenderView, raised: bool) -> WireMessage:
    return HandRaised(seq=seq, from_=dict(sender), raised=raised).wire()


def mute_request_message(kind: str, sender: SenderView) -> WireMessage:
    return MuteRequest(kind=kind, from_=dict(sender)).wire()


def grants_message(grants: dict[str, bool]) -> WireMessage:
    return Grants(grants=grants).wire()


def kicked_message(reason: str | None) -> WireMessage:
    return Kicked(reason=reason or "removed by the host").wire()


def room_ended_message(reason: str) -> WireMessage:
    return RoomEnded(reason=reason).wire()
