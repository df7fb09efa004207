"""The bus's events for this node: room events fanned out to the room's local connections,
events for one participant delivered to their connection, and a catch-up after the bus was
lost (what the rooms missed meanwhile, from the room log and the store).

What each event means is decided in ``signaling/room_core.py``; this module carries it out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from rooms.bus_events import (
    BusEvent,
    CloseParticipant,
    Direct,
    ForParticipant,
    GrantChanged,
    RoomMessage,
    WaitingDecision,
)
from rooms.chat import ChatService
from rooms.room_log import RoomLog
from signaling import close_codes
from signaling.local_room import LocalRoom
from signaling.media_routing import MediaRouting
from signaling.messages import chat_message
from signaling.node import Node
from signaling.presence_upkeep import PresenceUpkeep
from signaling.room_core import (
    AwaitGap,
    CloseConnection,
    EndLocalRoom,
    FanOut,
    NotePresence,
    ObserveLatency,
    Regrant,
    SendTo,
    Unpublish,
    direct_event_actions,
    room_event_actions,
)

__all__ = ["EARLY_DIRECT_LIMIT", "BusListener"]

log = logging.getLogger("liveclass.hub")

#: Messages kept for a participant admitted but not seated yet (see :meth:`on_direct`).
EARLY_DIRECT_LIMIT = 64


class BusListener:
    def __init__(
        self,
        node: Node,
        *,
        upkeep: PresenceUpkeep,
        media: MediaRouting,
        chat: ChatService,
        room_log: RoomLog,
    ) -> None:
        self._node = node
        self._upkeep = upkeep
        self._media = media
        self._chat = chat
        self._log = room_log
        #: While the bus is lost: each local room's highest delivered seq at the loss.
        self._catchup: dict[str, int] | None = None
        #: Told each ``speakers`` room message: (session id, speakers) (the talk time's).
        self.on_speakers: Callable[[str, list[str]], None] | None = None

    async def listen(self) -> None:
        """Handle the bus's events until cancelled; re-subscribe (with backoff) and catch
        up after a loss."""
        node = self._node
        backoff = 0.1
        while True:
            try:
                async for _channel, event in node.bus.events():
                    backoff = 0.1
                    try:
                        self.on_event(event)
                    except Exception:
                        log.exception("bus event %s failed", type(event).__name__)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus connection lost (%r); reconnecting", exc)
                if self._catchup is None:
                    self._catchup = {sid: room.last_seq for sid, room in node.rooms.items()}
                for room in node.rooms.values():
                    room.askers_loaded = False  # questions asked meanwhile: read them again
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                if await self._resubscribe() and self._catchup is not None:
                    try:
                        await self._catch_up(self._catchup)
                        self._catchup = None
                    except Exception as exc:
                        log.warning("catching up after a bus loss failed (%r); will retry", exc)

    async def _resubscribe(self) -> bool:
        bus = self._node.bus
        with contextlib.suppress(Exception):
            await bus.close()
        channels = [bus.node_channel(self._node.node_id)] + [
            bus.room_channel(sid) for sid in self._node.rooms
        ]
        try:
            await bus.subscribe(*channels)
        except Exception as exc:
            # events() raises on the unsubscribed connection; the loop backs off and retries.
            log.warning("bus subscription failed (%r); will retry", exc)
            return False
        return True

    async def _catch_up(self, marks: dict[str, int]) -> None:
        """After the bus was lost: send each local room what it missed meanwhile, from the
        room's log in Redis and from the store (chat), skipping what did arrive."""
        for sid, mark in marks.items():
            room = self._node.rooms.get(sid)
            if room is None:
                continue
            missed: dict[int, dict[str, Any]] = {}
            with contextlib.suppress(Exception):
                for message in await self._log.since(sid, mark):
                    missed[int(message["seq"])] = message
            for row in await self._chat.since(sid, mark):
                if row.seq not in missed:
                    sender = {
                        "id": row.user_id,
                        "userId": row.user_id,
                        "name": row.user_name,
                        "role": row.role,
                    }
                    missed[row.seq] = chat_message(
                        id=row.id, seq=row.seq, sender=sender, text=row.text, ts=row.created_at
                    )
            for seq in sorted(missed):
                if not room.order.delivered(seq):
                    room.order.note_delivered(seq)
                    self._node.metrics.messages_out.inc(room.fan_out(missed[seq]))
            room.order.skip_to(room.last_seq)

    def on_event(self, event: BusEvent) -> None:
        """One event from the bus."""
        if isinstance(event, Direct | CloseParticipant | GrantChanged):
            self.on_direct(event)
            return
        if isinstance(event, WaitingDecision):
            if self._node.waiting_decisions is not None:
                self._node.waiting_decisions(event)
            return
        room = self._node.rooms.get(event.session_id)
        if room is None:
            return
        node = self._node
        if (
            self.on_speakers is not None
            and isinstance(event, RoomMessage)
            and event.message.get("type") == "speakers"
        ):
            self.on_speakers(event.session_id, list(event.message.get("speakers") or []))
        delivered = 0
        for action in room_event_actions(room.order, event, node.clock()):
            match action:
                case FanOut(message, audience, exclude):
                    delivered += room.fan_out(message, audience=audience, exclude=exclude)
                case AwaitGap():
                    self._schedule_order(room)
                case ObserveLatency(sent_at):
                    node.metrics.fanout_latency.observe(max(0.0, node.clock() - sent_at))
                case NotePresence(joined, left, hidden):
                    room.note_presence(joined, left, hidden)
                    self._upkeep.schedule_tick(room)
                case EndLocalRoom(message):
                    self._end(room, message)
        if delivered:
            node.metrics.messages_out.inc(delivered)

    def _end(self, room: LocalRoom, message: dict[str, Any]) -> None:
        node = self._node
        room.fan_out(message)
        for conn in list(room.conns.values()):
            for hook in node.release_hooks:  # released all at once, below
                hook(conn)
            conn.close(close_codes.NORMAL, "room ended")
        for conn in list(room.conns.values()):
            node.by_pid.pop(conn.participant_id, None)
        room.conns.clear()
        node.drop_room(room)
        node.metrics.connections.set(len(node.by_pid))
        node.spawn(node.bus.unsubscribe(node.bus.room_channel(room.session_id)))

    def _schedule_order(self, room: LocalRoom) -> None:
        """Messages wait for a gap in the seq: send them anyway at the window's end."""
        deadline = room.order.deadline
        if deadline is None or room.order_timer is not None:
            return
        node = self._node

        def expire() -> None:
            room.order_timer = None
            if node.rooms.get(room.session_id) is not room:
                return
            for message in room.order.expire(node.clock()):
                node.metrics.messages_out.inc(room.fan_out(message))
            self._schedule_order(room)

        delay = max(0.0, deadline - node.clock())
        room.order_timer = asyncio.get_running_loop().call_later(delay, expire)

    def on_direct(self, event: ForParticipant) -> None:
        """An event for one participant. One admitted but not seated yet gets it once seated
        (the SFU may offer to them as soon as they are admitted)."""
        node = self._node
        conn = node.by_pid.get(event.to)
        if conn is None:
            early = node.early_direct.get(event.to)
            if early is not None and len(early) < EARLY_DIRECT_LIMIT:
                early.append(event)  # being admitted or seated: delivered once seated
            return
        for action in direct_event_actions(event, conn.grant):
            match action:
                case SendTo(message):
                    conn.send(message)
                case CloseConnection(code, reason):
                    node.metrics.closed.labels(str(code)).inc()
                    conn.close(code, reason)
                    node.spawn(node.release(conn))
                case Regrant(grant):
                    conn.regrant(grant)
                case Unpublish():
                    node.spawn(self._media.unpublish(conn))
