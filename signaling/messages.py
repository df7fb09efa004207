"""Server → client messages of protocol version 1, as plain dicts ready for :func:`encode`.

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

from datetime import UTC, datetime
from typing import Any

from rooms.presence import PresenceEntry

__all__ = [
    "chat_message",
    "count_message",
    "grants_message",
    "hand_message",
    "kicked_message",
    "mute_request_message",
    "participant_view",
    "presence_message",
    "recording_message",
    "room_ended_message",
    "signal_message",
    "welcome_message",
]


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def participant_view(entry: PresenceEntry) -> dict[str, Any]:
    return {
        "id": entry.participant_id,
        "userId": entry.user_id,
        "name": entry.name,
        "role": entry.role.value,
        "joinedAt": entry.joined_at_ms,
    }


def welcome_message(
    *,
    participant: PresenceEntry,
    room: dict[str, Any],
    count: int,
    seats: int,
    roster: list[dict[str, Any]] | None,
    resume: str,
    seq: int,
    grants: dict[str, bool],
    resumed: bool,
    protocol: int,
    ice_servers: list[dict[str, Any]],
    reload: dict[str, int] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "welcome",
        "protocol": protocol,
        "participant": participant_view(participant),
        "room": room,
        "count": count,
        "seats": seats,
        "resume": resume,
        "seq": seq,
        "grants": grants,
        "resumed": resumed,
        "iceServers": ice_servers,
    }
    if roster is not None:
        message["roster"] = roster
    if reload is not None:
        # A resume whose gap is not replayed: read it from the history (README, Resume).
        message["reload"] = reload
    return message


def presence_message(
    joined: list[dict[str, Any]], left: list[dict[str, Any]], count: int, seats: int
) -> dict[str, Any]:
    return {"type": "presence", "joined": joined, "left": left, "count": count, "seats": seats}


def count_message(count: int, seats: int) -> dict[str, Any]:
    return {"type": "count", "count": count, "seats": seats}


def chat_message(
    *, id: str, seq: int, sender: dict[str, Any], text: str, ts: datetime
) -> dict[str, Any]:
    return {"type": "chat", "id": id, "seq": seq, "from": sender, "text": text, "ts": iso(ts)}


def signal_message(sender: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "signal", "from": sender, "kind": kind}
    message.update(payload)
    return message


def sfu_restart_message(reason: str) -> dict[str, Any]:
    """The room's media moved to another worker: drop every connection to the SFU, publish
    again if you were publishing; the SFU then offers you the room's media anew."""
    return {"type": "signal", "from": "sfu", "kind": "restart", "reason": reason}


def hand_message(seq: int, sender: dict[str, Any], raised: bool) -> dict[str, Any]:
    return {"type": "hand", "seq": seq, "from": sender, "raised": raised}


def mute_request_message(kind: str, sender: dict[str, Any]) -> dict[str, Any]:
    return {"type": "mute-request", "kind": kind, "from": sender}


def grants_message(grants: dict[str, bool]) -> dict[str, Any]:
    return {"type": "grants", "grants": grants}


def kicked_message(reason: str | None) -> dict[str, Any]:
    return {"type": "kicked", "reason": reason or "removed by the host"}


def recording_message(seq: int, status: str, recording_id: str) -> dict[str, Any]:
    return {"type": "recording", "seq": seq, "status": status, "recordingId": recording_id}


def room_ended_message(reason: str) -> dict[str, Any]:
    return {"type": "room-ended", "reason": reason}
