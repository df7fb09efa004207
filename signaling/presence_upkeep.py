"""Keeping presence true: announcing joins and leaves, the heartbeat that renews this node's
entries, the sweep that purges expired ones, and re-asserting everything after Redis lost it.

Presence lives in Redis with a TTL that each node's heartbeat renews (every
``heartbeat_interval``); a node that dies stops renewing, and the others' sweep (every
``sweep_interval``) purges its entries and announces the leaves. A dropped connection's entry
is not renewed: it waits ``resume_grace`` for a resume, then the sweep removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from rooms import errors
from rooms.attendance import AttendanceService
from rooms.bans import Bans
from rooms.bus_events import PresenceChanged
from rooms.chat import ChatService
from rooms.presence import PresenceEntry, ResumeSave
from signaling import close_codes
from signaling.announce import PresenceAnnouncer
from signaling.local_room import LocalRoom
from signaling.media_routing import MediaRouting
from signaling.messages import participant_view
from signaling.node import Node
from signaling.participant import State
from signaling.protocol import error_message
from signaling.room_core import close_for_gone

__all__ = ["PresenceUpkeep"]

log = logging.getLogger("liveclass.hub")

#: Participants renewed per script call. On the embedded fakeredis a script runs on the event
#: loop: a room of 500 in one call stalled every chat delivery behind it for ~7 ms; in chunks
#: the loop serves them in between (on Redis: a few round trips every heartbeat).
REFRESH_CHUNK = 100


class PresenceUpkeep:
    def __init__(
        self,
        node: Node,
        *,
        attendance: AttendanceService,
        chat: ChatService,
        bans: Bans,
        media: MediaRouting,
    ) -> None:
        self._node = node
        self._presence = node.presence
        self._attendance = attendance
        self._chat = chat
        self._bans = bans
        self._media = media
        self.announcer = PresenceAnnouncer(self._publish_presence)
        #: Redis's data epoch as last seen (``Presence.epoch``): a change means it lost
        #: everything, and this node re-asserts its participants.
        self.epoch: bytes | None = None

    # -- telling the room -------------------------------------------------------------------

    async def announce(
        self,
        session_id: str,
        *,
        joined: list[PresenceEntry],
        left: list[PresenceEntry],
    ) -> None:
        """Publish presence changes to every node (coalesced with the room's others that
        arrive meanwhile: one bus event for a whole join storm's batch)."""
        await self.announcer.announce(session_id, joined, left)

    async def _publish_presence(
        self, session_id: str, joined: list[PresenceEntry], left: list[PresenceEntry]
    ) -> None:
        event = PresenceChanged(
            session_id,
            self._node.node_id,
            joined=[participant_view(e) for e in joined],
            left=[participant_view(e) for e in left],
            hidden=[e.participant_id for e in joined + left if e.hidden],
        )
        await self._node.bus.publish(event)

    async def removed(
        self,
        session_id: str,
        entries: list[PresenceEntry],
        *,
        code: int,
        reason: str,
        message: dict[str, Any] | None = None,
    ) -> None:
        """``entries`` were removed from the room's presence by someone other than their
        connection (a REST leave, a kick, a purge): close the WebSocket connections among
        them on whichever node holds them (with ``code``, after ``message``), so nobody
        keeps a socket without a seat, and tell the room they left."""
        if not entries:
            return
        for entry in entries:
            if entry.source != "ws":
                continue
            await self._node.close_remote(
                entry, session_id, code=code, reason=reason, message=message
            )
        await self.announce(session_id, joined=[], left=entries)

    async def purged(self, session_id: str, entries: list[PresenceEntry]) -> None:
        """The presence's purge listener: entries that expired, whoever purged them, leave
        for good: their attendance is closed, a connection still holding one is closed with
        1001 (reconnect), and the room is told."""
        await self._attendance.closed(session_id, entries)
        await self.removed(
            session_id, entries, code=close_codes.GOING_AWAY, reason="presence lost; reconnect"
        )

    def schedule_tick(self, room: LocalRoom) -> None:
        """Send the room's coalesced presence changes at the end of this tick."""
        if room.tick_scheduled:
            return
        room.tick_scheduled = True
        asyncio.get_running_loop().call_later(
            self._node.settings.presence_tick,
            lambda: self._node.spawn(self._tick(room.session_id)),
        )

    async def _tick(self, session_id: str) -> None:
        room = self._node.rooms.get(session_id)
        if room is None:
            return
        room.tick_scheduled = False
        try:
            count, seats = await self._presence.tally(session_id)
        except Exception as exc:
            log.warning("presence tally of %s failed: %r", session_id, exc)
            self.schedule_tick(room)
            return
        self._node.metrics.messages_out.inc(room.flush_presence(count, seats))

    # -- upkeep -----------------------------------------------------------------------------

    async def heartbeat(self) -> None:
        """Renew the entries of this node's live and joining participants; close those whose
        entry someone else removed; re-assert everything when Redis lost its data."""
        node, ttl = self._node, self._node.settings.presence_ttl
        epoch = await self._presence.epoch()
        if self.epoch is not None and epoch != self.epoch:
            log.warning("Redis lost its data (restarted?): re-asserting this node's presence")
            await self._reassert()
        self.epoch = epoch
        joining: dict[str, list[str]] = {}
        for sid, entry in list(node.joining.values()):
            joining.setdefault(sid, []).append(entry.participant_id)
        for sid, pids in joining.items():
            await self._presence.refresh(sid, pids, ttl)
        for room in list(node.rooms.values()):
            # Not those leaving: their entry is being removed, and their ack comes first.
            pids = [
                pid
                for pid, c in room.conns.items()
                if c.is_open and (c.logic is None or c.logic.state is State.OPEN)
            ]
            missing = []
            for first in range(0, len(pids), REFRESH_CHUNK):
                chunk = pids[first : first + REFRESH_CHUNK]
                missing += await self._presence.refresh(room.session_id, chunk, ttl)
            if not missing:
                continue
            # Removed by someone else; whoever did also sent the close, but it may still be
            # on its way: close with the code the removal means, not a blind 1001.
            reasons = await self._presence.gone(room.session_id, missing)
            for pid, reason in reasons.items():
                conn = room.conns.get(pid)
                # One that began to leave while we renewed removed its own entry; its leave
                # closes it after the ack (closing it here would lose that ack).
                if conn is not None and (conn.logic is None or conn.logic.state is State.OPEN):
                    code, why, message = close_for_gone(reason)
                    if message is not None:
                        conn.send(message)
                    node.metrics.closed.labels(str(code)).inc()
                    conn.close(code, why)
                    await node.release(conn)

    async def _reassert(self) -> None:
        """Put this node's participants back into an empty Redis: each room's state from the
        store, every local entry re-admitted (no attendance change: they never left), resume
        tokens and publish permissions saved again and the sequence counter above anything
        delivered. A participant the room no longer admits (it ended, or its seat went to
        someone else meanwhile) is closed with the refusal's code."""
        node, settings = self._node, self._node.settings
        for room in list(node.rooms.values()):
            sid = room.session_id
            node.forget_row(sid)
            row = await node.room_row(sid)
            if row is None:
                continue
            banned = await self._bans.banned_users(sid)
            await self._presence.load_room(sid, row.status, row.max_participants, banned)
            await self._chat.reseed(sid, room.last_seq)
            for conn in list(room.conns.values()):
                if conn.entry is None or not conn.is_open:
                    continue
                resume = ResumeSave(conn.resume_token, int(settings.resume_grace))
                try:
                    await self._presence.admit(
                        sid, conn.entry, settings.presence_ttl, resume=resume
                    )
                except errors.LiveclassError as exc:
                    conn.send_first(error_message(exc.code, exc.message))
                    conn.close(close_codes.close_code_for(exc), exc.message[:120])
                    await node.release(conn)
                    continue
                grant = conn.grant
                if grant is not None and grant.can_publish and not grant.can_moderate:
                    await self._presence.allow_publish(sid, grant.user_id, True)
        for sid, entry in list(node.joining.values()):
            with contextlib.suppress(errors.LiveclassError):
                await self._presence.admit(sid, entry, settings.presence_ttl)

    async def sweep(self) -> None:
        """Purge the expired entries of this node's rooms (the purge listener announces
        them), then check the rooms' media workers."""
        for room in list(self._node.rooms.values()):
            await self._presence.purge(room.session_id)
        await self._media.check_media()
