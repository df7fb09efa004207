"""One room as seen by one node: its local connections, fan-out and presence batching.

Fan-out encodes a message once per codec in use and appends the same frame to every
recipient's outbox; it never waits for a recipient. On a quiet hub it writes the frame to each
idle recipient's socket at once instead (``Flusher.write_through``, signaling/flush.py).

Presence changes (from any node, via the bus) are collected and sent once per tick
(``presence_tick``, default 200 ms) as one ``presence`` message with every join and leave of
the tick and the room's current count, read from Redis at the tick so it is never stale.
Hosts and observers always get the full roster changes; when the room is larger than
``roster_limit``, students get only a ``count`` message, and only when the count changed.
Hidden observers appear only in what hosts and observers receive.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from signaling.connection import Connection
from signaling.flush import Flusher
from signaling.messages import count_message, presence_message
from signaling.ordering import SeqOrder
from signaling.protocol import Codec, encode, wire_size

__all__ = ["LocalRoom", "RoomInfo"]


@dataclass(frozen=True, slots=True)
class RoomInfo:
    session_id: str
    tenant: str
    room_name: str
    title: str
    status: str
    capacity: int
    session_type: str

    def view(self) -> dict[str, Any]:
        return {
            "id": self.session_id,
            "name": self.room_name,
            "title": self.title,
            "status": self.status,
            "capacity": self.capacity,
            "sessionType": self.session_type,
        }


@dataclass(slots=True)
class LocalRoom:
    info: RoomInfo
    roster_limit: int
    conns: dict[str, Connection] = field(default_factory=dict)
    joined: dict[str, dict[str, Any]] = field(default_factory=dict)
    left: dict[str, dict[str, Any]] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    tick_scheduled: bool = False
    last_count: tuple[int, int] | None = None
    #: The media worker this node last knew the room's media on (to notice a move).
    media_origin: str | None = None
    #: The highest ``seq`` fanned out here (which numbers went out: ``order``).
    last_seq: int = 0
    #: Puts the room's reliable messages back in seq order (see signaling/ordering.py).
    order: SeqOrder = field(default_factory=SeqOrder)
    order_timer: asyncio.TimerHandle | None = None
    #: Whether this node listens to the room's bus channel (set once subscribed), and the
    #: event set once the subscription was tried (``subscribed`` then says how it went).
    subscribed: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    #: Users with something private for the hosts here (a question they asked): noted from
    #: every ``hosts+<user>`` message fanned out, and from the store once per room and node
    #: (``askers_loaded``; see ``signaling/questions.py``): a join of anyone else, in a room
    #: nobody asked in, costs no read for the questions snapshot.
    askers: set[str] = field(default_factory=set)
    askers_loaded: bool = False
    #: The hub's flusher, when its connections write through one (a fan-out on a quiet hub
    #: then writes to idle connections at once).
    flusher: Flusher | None = None

    @property
    def session_id(self) -> str:
        return self.info.session_id

    def fan_out(
        self, message: dict[str, Any], *, audience: str = "all", exclude: str | None = None
    ) -> int:
        """Queue ``message`` for every local recipient; returns how many got it.

        ``audience``: ``all``; ``hosts`` (those who see the roster: hosts, moderators,
        observers); or ``hosts+<user id>``: the hosts and that user (a private question's
        asker)."""
        seq = message.get("seq")
        if isinstance(seq, int) and message.get("type") != "welcome":
            self.last_seq = max(self.last_seq, seq)
        flusher = self.flusher
        if flusher is None:
            return self._push_all(message, audience, exclude, None)
        with flusher.write_through() as at_once:
            return self._push_all(message, audience, exclude, flusher if at_once else None)

    def _push_all(
        self, message: dict[str, Any], audience: str, exclude: str | None, direct: Flusher | None
    ) -> int:
        """The fan-out's loops; ``direct``: the flusher, when frames are written at once."""
        frames: dict[Codec, _Framed] = {}
        delivered = 0
        if audience == "all" and exclude is None:
            # Everyone (every chat message): the loop without the audience's checks, and the
            # frame looked up only when the codec changes (most rooms speak one).
            codec: Codec | None = None
            frame: str | bytes = ""
            size = 0
            data: bytes | None = None
            for conn in self.conns.values():
                if conn.codec is not codec:
                    codec = conn.codec
                    frame, size, data = frames.get(codec) or _framed(frames, message, codec, direct)
                if conn.push(frame, size, data):
                    delivered += 1
            return delivered
        user = audience[6:] if audience.startswith("hosts+") else None
        if user is not None:
            self.askers.add(user)
        for pid, conn in self.conns.items():
            if pid == exclude:
                continue
            if (
                audience != "all"
                and not conn.sees_roster
                and (user is None or conn.entry is None or conn.entry.user_id != user)
            ):
                continue
            framed = frames.get(conn.codec) or _framed(frames, message, conn.codec, direct)
            if conn.push(*framed):
                delivered += 1
        return delivered

    def note_presence(
        self,
        joined: list[dict[str, Any]],
        left: list[dict[str, Any]],
        hidden: list[str],
    ) -> None:
        """Collect presence changes until the next tick."""
        self.hidden.update(hidden)
        for view in left:
            pid = view["id"]
            if self.joined.pop(pid, None) is None:
                self.left[pid] = view
        for view in joined:
            pid = view["id"]
            self.left.pop(pid, None)
            self.joined[pid] = view

    def flush_presence(self, count: int, seats: int) -> int:
        """Send the tick's presence and count messages; returns frames queued."""
        joined, left = list(self.joined.values()), list(self.left.values())
        self.joined.clear()
        self.left.clear()
        full = presence_message(joined, left, count, seats)
        public = presence_message(
            [v for v in joined if v["id"] not in self.hidden],
            [v for v in left if v["id"] not in self.hidden],
            count,
            seats,
        )
        count_changed = self.last_count != (count, seats)
        self.last_count = (count, seats)
        large = count > self.roster_limit
        frames: dict[tuple[str, Codec], str | bytes] = {}
        sent = 0
        for conn in self.conns.values():
            if conn.sees_roster:
                variant, message = "full", full
            elif not large and (public["joined"] or public["left"]):
                variant, message = "public", public
            elif count_changed:
                variant, message = "count", count_message(count, seats)
            else:
                continue
            key = (variant, conn.codec)
            frame = frames.get(key)
            if frame is None:
                frame = frames[key] = encode(message, conn.codec)
            if conn.push(frame):
                sent += 1
        for view in left:
            self.hidden.discard(view["id"])
        return sent


#: An encoded message, its wire size, and its WebSocket frame when written at once.
_Framed = tuple[str | bytes, int, bytes | None]


def _framed(
    frames: dict[Codec, _Framed], message: dict[str, Any], codec: Codec, direct: Flusher | None
) -> _Framed:
    """``message`` encoded for ``codec`` with its wire size (and, for a fan-out that writes at
    once, ``direct``, its WebSocket frame), kept in ``frames``: a fan-out encodes, measures and
    frames once per codec, not per recipient."""
    frame = encode(message, codec)
    data = direct.frame(frame) if direct is not None else None
    framed = frames[codec] = (frame, wire_size(frame), data)
    return framed
