"""Between participants and the media workers: signals for the SFU go to the right worker
(which one is decided in ``room_core.media_workers``), a withdrawn publish grant stops the
forwarding, and a dead worker's rooms move to a live one.

A worker's answers come back as ``direct`` bus events (see ``signaling/bus_listener.py``).
"""

from __future__ import annotations

import logging

from rooms import errors
from rooms.bus_events import MediaSignal
from rooms.media_registry import MediaRegistry
from signaling.connection import Connection
from signaling.messages import sfu_restart_message
from signaling.node import Node
from signaling.participant import RelaySignal
from signaling.protocol import ack_message
from signaling.room_core import media_workers, needs_assignment

__all__ = ["MediaRouting"]

log = logging.getLogger("liveclass.hub")


class MediaRouting:
    def __init__(self, node: Node, media: MediaRegistry | None) -> None:
        self._node = node
        self._media = media

    async def to_media(self, conn: Connection, effect: RelaySignal) -> None:
        """Hand a signal for the SFU to the media workers concerned (the room is placed on
        the least-loaded live worker first); acks it when the signal carries a ``rid``."""
        assert conn.entry is not None
        assert conn.grant is not None
        sid, pid = conn.session_id, conn.entry.participant_id
        origin = await self._media.place(sid) if self._media else None
        if origin is None or self._media is None:
            raise errors.Unavailable(
                "no media worker is available for this room", code="sfu_unavailable"
            )
        room = self._node.rooms.get(sid)
        if room is not None and room.media_origin is None:
            room.media_origin = origin
        target = effect.payload.get("target")
        assigned = None
        if needs_assignment(effect.kind, target):
            assigned = await self._media.assignment(sid, pid)
        event = MediaSignal(
            sid,
            pid,
            effect.kind,
            self._node.node_id,
            user=conn.entry.user_id,
            role=conn.entry.role.value,
            publish=conn.grant.can_publish,
            signal=effect.payload,
        )
        for worker in media_workers(effect.kind, target, origin, assigned):
            await self._node.bus.publish_to(self._media.worker_channel(worker), event)
        if effect.rid is not None:
            conn.send(ack_message(effect.rid))

    async def unpublish(self, conn: Connection) -> None:
        """The host withdrew a participant's publish grant: the room's worker (if any) stops
        forwarding what they send."""
        if self._media is None or conn.entry is None:
            return
        try:
            worker = await self._media.worker_of(conn.session_id)
            if worker is None:
                return
            event = MediaSignal(
                conn.session_id, conn.entry.participant_id, "unpublish", self._node.node_id
            )
            await self._node.bus.publish_to(self._media.worker_channel(worker), event)
        except Exception as exc:  # Redis trouble: the publication ends when they leave
            log.warning("could not stop a withdrawn publication: %r", exc)

    async def check_media(self) -> None:
        """Media workers die too. When a room's origin worker is dead, move the room to a live
        one and tell this node's participants to negotiate again (``signal`` ``restart`` from
        ``sfu``: publishers re-offer to the new origin, which then offers everyone the room's
        media). When a relay worker is dead, its participants here are told the same, and the
        origin serves them again (from itself or another relay)."""
        rooms = self._node.rooms
        if self._media is None or not rooms:
            return
        origins = await self._media.workers_of(list(rooms))
        placed = {sid: worker for sid, worker in origins.items() if worker is not None}
        if not placed:
            return
        alive = set(await self._media.alive())
        for sid, origin in placed.items():
            room = rooms.get(sid)
            if room is None:
                continue
            if origin not in alive:
                moved = await self._media.place(sid)
                log.warning("media worker %s of room %s is gone; moved to %s", origin, sid, moved)
                origin = moved or origin
            seen, room.media_origin = room.media_origin, origin
            if seen is not None and seen != origin:
                room.fan_out(sfu_restart_message("worker_lost"))
                # Another node may have moved the room and its publishers already re-offered:
                # then the new origin has offered our participants the room's media on the
                # connections they are about to drop. Queued after the restart, this makes
                # it offer them anew (ignored if the room is not open there yet: it offers
                # everyone once it opens).
                for pid in list(room.conns):
                    await self._resubscribe_at(origin, sid, pid)
                continue
            dead_relays = await self._media.relays(sid) - alive
            if not dead_relays:
                continue
            assigned = await self._media.assignments(sid, list(room.conns))
            for pid, worker in assigned.items():
                conn = room.conns.get(pid)
                if worker not in dead_relays or conn is None:
                    continue
                conn.send(sfu_restart_message("worker_lost"))
                await self._resubscribe_at(origin, sid, pid)

    async def _resubscribe_at(self, worker: str, sid: str, pid: str) -> None:
        """Ask a room's origin worker to offer ``pid`` the room's media anew (they were told
        to restart, so whatever it offered them before is lost)."""
        assert self._media is not None
        node = self._node
        event = MediaSignal(sid, pid, "resubscribe", node.node_id)
        await node.bus.publish_to(self._media.worker_channel(worker), event)
