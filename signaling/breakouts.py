"""Breakout rooms over WebSocket: the host splits the class into rooms, students move there
and back (rules in rooms/breakouts.py, storage in rooms/breakout_store.py).

A breakout room is a child session: moving a student is telling their page to connect to
another room (``breakout`` with a room token for it); everything inside a room (presence,
capacity, chat, media, attendance) is that room's own, by the ordinary machinery.

- ``breakout-open`` (host of the class): the students present (role guest) are split, the
  rooms created, each assigned student connected over WebSocket gets ``breakout`` (with a
  token), the class's hosts get ``breakouts``. With a timer, the node that opened them
  closes them when it ends (clients also show the countdown, ``endsAt``).
- ``breakout-close``, the timer, or the end of the class: each room gets ``breakout-ended``
  (clients go back to the main room) and ends (``room-ended``, closed with 1000); the
  hosts get ``breakouts`` ``{open: false}``.
- ``breakout-broadcast``: ``breakout-notice`` to everyone in every open room and in the
  main room. ``breakout-visit``: a host's token for one open room.
- After every ``welcome``: a host of a class with open rooms gets ``breakouts``; an
  assigned student who (re)joins the main room gets ``breakout`` (and moves); anyone in a
  breakout room gets ``breakout`` without a token (which room, the class, the timer). A
  welcome in the main room of rooms whose timer is overdue (the node that opened them
  stopped) closes them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import assert_never

from rooms.attendance import AttendanceService
from rooms.breakout_messages import (
    BreakoutAssigned,
    BreakoutBroadcast,
    BreakoutClose,
    BreakoutEnded,
    BreakoutMember,
    BreakoutMove,
    BreakoutNotice,
    BreakoutOpen,
    BreakoutRequest,
    BreakoutState,
    BreakoutView,
    BreakoutVisit,
)
from rooms.breakout_store import BreakoutRoom, BreakoutStore, room_of_row
from rooms.breakouts import Student, check_duration, plan_rooms
from rooms.bus_events import Audience, Direct, RoomMessage
from rooms.errors import Forbidden, InvalidState, NotFound
from rooms.model import RoomRole
from rooms.protocol_models import WireMessage
from rooms.server_messages import Ack
from rooms.store.types import utcnow
from rooms.tokens import RoomGrant, RoomTokens
from signaling.answering import answering
from signaling.connection import Connection
from signaling.node import Node

__all__ = ["BreakoutDesk"]

log = logging.getLogger("liveclass.breakouts")

#: How long a node trusts what it read of a class's open rooms (joins read it once per burst).
CACHE_SECONDS = 2.0


def _ms(room: BreakoutRoom) -> int | None:
    return int(room.ends_at.timestamp() * 1000) if room.ends_at is not None else None


def _overdue(rooms: list[BreakoutRoom]) -> bool:
    """The rooms' timer ended (a second ago: the opening node's own timer goes first)."""
    ends = rooms[0].ends_at
    return ends is not None and (utcnow() - ends).total_seconds() > 1.0


def _view(room: BreakoutRoom, *, members: bool = False) -> BreakoutView:
    people = [BreakoutMember(userId=m.user_id, name=m.name) for m in room.members]
    return BreakoutView(id=room.id, name=room.name, members=people if members else None)


class BreakoutDesk:
    def __init__(
        self,
        node: Node,
        *,
        store: BreakoutStore,
        tokens: RoomTokens,
        attendance: AttendanceService,
        rng: random.Random | None = None,
    ) -> None:
        self._node = node
        self.store = store
        self._tokens = tokens
        self._attendance = attendance
        self._rng = rng or random.Random()
        self._open: dict[str, tuple[float, list[BreakoutRoom]]] = {}
        #: The query for a class's open rooms while it runs (see :meth:`_open_rooms`).
        self._loading: dict[str, asyncio.Future[list[BreakoutRoom]]] = {}
        node.end_hooks.append(self.class_ended)

    async def handle(self, conn: Connection, message: BreakoutRequest) -> None:
        """Carry out a host's breakout request: always answered (``ack`` or ``error``)."""
        with answering(conn, message.type, message.rid):
            await self._handle(conn, message)

    async def _handle(self, conn: Connection, message: BreakoutRequest) -> None:
        """One ``case`` per member of :data:`~rooms.breakout_messages.BreakoutRequest`."""
        grant, sid = conn.grant, conn.session_id
        assert grant is not None
        if not grant.can_moderate:
            raise Forbidden("only the host runs breakout rooms", code="forbidden")
        row = await self._node.room_row(sid)
        if row is not None and row.parent_id is not None:
            raise InvalidState("breakout rooms are run from the main room", code="invalid_state")
        match message:
            case BreakoutOpen():
                rooms = await self.open(
                    sid,
                    message.rooms,
                    manual=message.assignments,
                    names=message.names,
                    duration=message.duration,
                )
                views = [{"id": r.id, "name": r.name} for r in rooms]
                conn.send(Ack(rid=message.rid, rooms=views).wire())
            case BreakoutClose():
                closed = await self.close(sid, "the host called everyone back")
                conn.send(Ack(rid=message.rid, count=len(closed)).wire())
            case BreakoutBroadcast():
                rooms = await self.store.rooms(sid, open_only=True)
                if not rooms:
                    raise InvalidState("no breakout room is open", code="no_breakouts")
                by = {"id": conn.participant_id, "userId": grant.user_id, "name": grant.name}
                notice = BreakoutNotice(text=message.text, by=by).wire()
                for target in [sid, *(r.id for r in rooms)]:
                    await self._publish(target, notice, "all")
                conn.send(Ack(rid=message.rid, count=len(rooms)).wire())
            case BreakoutVisit():
                rooms = await self.store.rooms(sid, open_only=True)
                room = next((r for r in rooms if r.id == message.room), None)
                if room is None:
                    raise NotFound("no such open breakout room", code="breakout_not_found")
                host = RoomGrant.for_role(
                    session_id=room.id,
                    tenant=grant.tenant,
                    user_id=grant.user_id,
                    name=grant.name,
                    role=RoomRole.HOST,
                    room_name=room.id,
                )
                token, _ = self._tokens.mint(host)
                conn.send(Ack(rid=message.rid, room=room.id, token=token).wire())
            case BreakoutMove():
                await self.move(sid, message.userId, message.name, message.room)
                conn.send(Ack(rid=message.rid, room=message.room).wire())
            case _:
                assert_never(message)

    async def move(
        self, session_id: str, user_id: str, name: str | None, room_id: str | None
    ) -> None:
        """Put a student in open room ``room_id`` (None: the main room) and tell them where to
        go, wherever they are connected (the main room or their previous room)."""
        node = self._node
        presence = node.presence
        known = {m.user_id: m.name for r in await self.store.rooms(session_id) for m in r.members}
        where = await presence.participant_of(session_id, user_id)
        entry = await presence.entry(session_id, where) if where is not None else None
        display = name or known.get(user_id) or (entry.name if entry is not None else user_id)
        was, rooms = await self.store.move(session_id, Student(user_id, display), room_id)
        self._open[session_id] = (time.monotonic(), rooms)
        row = await node.room_row(session_id)
        tenant = row.tenant_id if row is not None else ""
        target = next((r for r in rooms if r.id == room_id), None)
        for room in rooms:
            if room is target or (was is not None and room.id == was.id):
                # Room for exactly its members, in the admission's own copy of the capacity.
                await presence.load_room(room.id, room.status, max(1, len(room.members)))
        if target is not None:
            await presence.allow_publish(target.id, user_id, True)
        # Tell them wherever they are connected: the main room, their previous room, or both.
        found = [(session_id, entry)] if entry is not None else []
        if was is not None:
            pid = await presence.participant_of(was.id, user_id)
            inside = await presence.entry(was.id, pid) if pid is not None else None
            if inside is not None:
                found.append((was.id, inside))
        for room_of, seen in found:
            if seen.source != "ws" or (target is None and room_of == session_id):
                continue  # a REST seat has no socket; one in the main room is home already
            if target is not None:
                message = self._assigned(target, tenant, user_id, display)
            else:
                message = BreakoutEnded(parent=session_id, reason="the host moved you").wire()
            event = Direct(room_of, message, to=seen.participant_id, origin=node.node_id)
            await node.bus.publish_to_node(seen.node, event)
        await self._publish(session_id, self._state(rooms), "hosts")

    async def open(
        self,
        session_id: str,
        count: int,
        *,
        manual: dict[str, int] | None = None,
        names: list[str] | None = None,
        duration: int | None = None,
    ) -> list[BreakoutRoom]:
        """Split the students present into ``count`` rooms, create them, move the students
        (``breakout``) and tell the hosts (``breakouts``)."""
        node = self._node
        check_duration(duration)
        snapshot = await node.presence.snapshot(session_id)
        guests = [e for e in snapshot.entries if e.role is RoomRole.GUEST]
        students = [Student(e.user_id, e.name) for e in guests]
        plans = plan_rooms(students, count, manual=manual, names=names, rng=self._rng)
        rooms = await self.store.open(session_id, plans, duration)
        self._open[session_id] = (time.monotonic(), rooms)
        row = await node.room_row(session_id)
        tenant = row.tenant_id if row is not None else ""
        for room in rooms:
            for member in room.members:
                # Their camera and microphone are theirs in the room (a reload keeps it).
                await node.presence.allow_publish(room.id, member.user_id, True)
        for entry in guests:
            if entry.source != "ws":
                continue
            mine = next((r for r in rooms if r.has(entry.user_id)), None)
            if mine is not None:
                message = self._assigned(mine, tenant, entry.user_id, entry.name)
                event = Direct(session_id, message, to=entry.participant_id, origin=node.node_id)
                await node.bus.publish_to_node(entry.node, event)
        await self._publish(session_id, self._state(rooms), "hosts")
        if duration is not None:
            ids = {r.id for r in rooms}
            loop = asyncio.get_running_loop()
            loop.call_later(duration, lambda: node.spawn(self._time_up(session_id, ids)))
        return rooms

    async def close(self, session_id: str, reason: str) -> list[BreakoutRoom]:
        """Close the class's open rooms: everyone in them is sent back (``breakout-ended``)
        and the rooms end. The rooms that were open (none: nothing happened)."""
        node = self._node
        rooms = await self.store.close(session_id)
        self._open[session_id] = (time.monotonic(), [])
        for room in rooms:
            ended = BreakoutEnded(parent=session_id, reason=reason).wire()
            await self._publish(room.id, ended, "all")
            removed = await node.presence.close(room.id, "ended")
            if removed:
                await self._attendance.closed(room.id, removed)
            await node.room_ended(room.id, "the breakout rooms closed")
        if rooms:
            await self._publish(session_id, self._state([]), "hosts")
        return rooms

    async def class_ended(self, session_id: str) -> None:
        """A room ended: if it is a class with open breakout rooms, they end with it."""
        try:
            if await self.store.rooms(session_id, open_only=True):
                await self.close(session_id, "the class ended")
        except Exception as exc:
            log.warning("breakout rooms of %s not closed: %r", session_id, exc)

    async def _time_up(self, session_id: str, ids: set[str]) -> None:
        try:
            rooms = await self.store.rooms(session_id, open_only=True)
            if rooms and {r.id for r in rooms} == ids:
                await self.close(session_id, "time is up")
        except Exception as exc:
            log.warning("breakout timer of %s failed: %r", session_id, exc)

    async def after_welcome(self, conn: Connection) -> None:
        """What a newly seated connection is told of breakout rooms (see the module)."""
        grant = conn.grant
        if grant is None:
            return
        row = await self._node.room_row(conn.session_id)
        if row is None:
            return
        if row.parent_id is not None:
            room = room_of_row(row)
            if room.open:
                conn.send(
                    BreakoutAssigned(
                        room=_view(room), parent=row.parent_id, endsAt=_ms(room)
                    ).wire()
                )
            return
        rooms = await self._open_rooms(row.id)
        if rooms and _overdue(rooms):
            # The node whose timer it was is gone: whoever sees the rooms overdue closes them.
            self._node.spawn(self._time_up(row.id, {r.id for r in rooms}))
            return
        if not rooms:
            return
        if grant.can_moderate:
            conn.send(self._state(rooms))
        elif grant.role is RoomRole.GUEST:
            mine = next((r for r in rooms if r.has(grant.user_id)), None)
            if mine is not None:
                fresh = await self.store.room(mine.id)  # another node may have closed it
                if fresh is None or not fresh.open:
                    return
                conn.send(self._assigned(mine, row.tenant_id, grant.user_id, grant.name))

    async def _open_rooms(self, session_id: str) -> list[BreakoutRoom]:
        hit = self._open.get(session_id)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        # A join storm misses the cache all at once: its joins share one query (each its
        # own was hundreds of queries for one answer).
        loading = self._loading.get(session_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load_open_rooms(session_id))
            self._loading[session_id] = loading
            loading.add_done_callback(lambda done: self._loaded(session_id, done))
        # Shielded: a join that goes away must not cancel the query the others wait for.
        return await asyncio.shield(loading)

    async def _load_open_rooms(self, session_id: str) -> list[BreakoutRoom]:
        now = time.monotonic()
        rooms = await self.store.rooms(session_id, open_only=True)
        if len(self._open) > 10_000:
            self._open.clear()
        self._open[session_id] = (now, rooms)
        return rooms

    def _loaded(self, session_id: str, done: asyncio.Future[list[BreakoutRoom]]) -> None:
        if self._loading.get(session_id) is done:
            del self._loading[session_id]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone

    def _assigned(self, room: BreakoutRoom, tenant: str, user_id: str, name: str) -> WireMessage:
        grant = RoomGrant.for_role(
            session_id=room.id,
            tenant=tenant,
            user_id=user_id,
            name=name,
            role=RoomRole.GUEST,
            room_name=room.id,
        )
        token, _ = self._tokens.mint(grant)
        return BreakoutAssigned(
            room=_view(room), parent=room.parent_id, token=token, endsAt=_ms(room)
        ).wire()

    def _state(self, rooms: list[BreakoutRoom]) -> WireMessage:
        ends = _ms(rooms[0]) if rooms else None
        views = [_view(r, members=True) for r in rooms]
        return BreakoutState(open=bool(rooms), rooms=views, endsAt=ends).wire()

    async def _publish(self, session_id: str, message: WireMessage, audience: Audience) -> None:
        node = self._node
        event = RoomMessage(
            session_id, message, node.node_id, audience=audience, sent_at=node.clock()
        )
        await node.bus.publish(event)
