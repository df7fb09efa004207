"""The waiting room on a node: students who join a class with its waiting room on wait here,
before the admission, until the host lets them in or refuses them (``rooms/waiting_room.py``
keeps the list and the switch in Redis; rooms/waiting_messages.py has the messages, members of
the protocol's unions; ``signaling/waiting_protocol.py`` builds the notices).

A waiting connection is not seated: no participant id, no presence entry, no seat, not in the
count, and no room message or media reaches it. It gets ``waiting``; once let in, the hub
goes on with the ordinary admission (:meth:`Lobby.wait` returns True), so capacity and bans
hold exactly as for any join, on any node. Whether a student waits is decided by the
admission itself (``signaling/admission.py``, in its Redis script's round trip, on the token
it verified), not by a check of its own. The host's decision travels to the node holding
the waiter as a ``waiting`` bus event. Hosts, moderators, observers and a resume of a seated
participant never wait.

Hosts and moderators get ``waiting-list`` when they join and after every change (coalesced:
at most one every ``list_interval`` seconds per room and node).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, assert_never

from rooms.bus_events import RoomMessage, WaitingDecision
from rooms.errors import Forbidden, NotFound
from rooms.futures import cancel_and_wait
from rooms.protocol_models import Ping, WireMessage
from rooms.store.tables import SessionRow
from rooms.tokens import RoomGrant
from rooms.waiting_messages import WaitingAdmit, WaitingRefuse, WaitingRequest, WaitingRoomSwitch
from rooms.waiting_room import Waiter, WaitingRoom
from signaling import close_codes
from signaling.answering import answering
from signaling.connection import Connection
from signaling.local_room import RoomInfo
from signaling.messages import room_ended_message
from signaling.node import Node
from signaling.protocol import ProtocolError, ack_message, decode, error_message, pong_message
from signaling.waiting_protocol import (
    waiting_list_message,
    waiting_message,
    waiting_refused_message,
)

__all__ = ["Lobby", "Receive"]

log = logging.getLogger("liveclass.waiting")

#: Reads the waiting client's next frame; None once it went away.
Receive = Callable[[], Awaitable[str | bytes | None]]

ADMIT, REFUSE, ENDED, DRAIN, GONE = "admit", "refuse", "ended", "drain", "gone"


class Lobby:
    """This node's waiting connections, and the host's side of the waiting room."""

    def __init__(self, node: Node, store: WaitingRoom, *, list_interval: float = 0.2) -> None:
        self._node = node
        self.store = store
        self._list_interval = list_interval
        self._waiters: dict[str, asyncio.Future[str]] = {}
        self._lists: dict[str, asyncio.TimerHandle] = {}
        self._stopped = False
        node.waiting_decisions = self.on_decision
        node.end_hooks.append(self.room_ended)

    # -- the waiting student ----------------------------------------------------------------

    async def wait(
        self, conn: Connection, grant: RoomGrant, row: SessionRow, receive: Receive | None
    ) -> bool:
        """Hold ``conn`` in the waiting room until the host decides (the admission said this
        student waits: ``signaling/admission.py``'s ``Waiting``). True when they were let in
        (the caller admits them); False when they were refused, left or the class ended
        meanwhile (``conn`` is closed then). ``receive`` reads the client's frames while it
        waits (to notice it leaving); without it only a decision ends the wait."""
        node, sid = self._node, row.id
        waiter = Waiter(
            "w_" + secrets.token_urlsafe(9),
            grant.user_id,
            grant.name,
            node.node_id,
            int(node.clock() * 1000),
        )
        conn.start()
        if not await self.store.add(sid, waiter):
            conn.send(error_message("waiting_room_full", "too many people are waiting; try later"))
            conn.close(close_codes.TRY_AGAIN, "the waiting room is full")
            return False
        decision = asyncio.get_running_loop().create_future()
        self._waiters[waiter.id] = decision
        info = RoomInfo(sid, row.tenant_id, row.room_name, row.title, row.status, 0, "")
        conn.send(waiting_message(waiter.id, info.view()))
        self.schedule_list(sid)
        outcome = GONE
        try:
            outcome = await self._await(conn, decision, receive)
        finally:
            self._waiters.pop(waiter.id, None)
            if outcome in (GONE, DRAIN):
                with contextlib.suppress(Exception):
                    if await self.store.remove(sid, waiter.id):
                        if self._stopped:  # no timers on a node going away: now
                            await self._publish_list(sid)
                        else:
                            self.schedule_list(sid)
        if outcome == ADMIT:
            return True
        if outcome == REFUSE:
            conn.send(waiting_refused_message("the host did not let you in"))
            conn.close(close_codes.FORBIDDEN, "refused by the host")
        elif outcome == ENDED:
            conn.send(room_ended_message("the class ended"))
            conn.close(close_codes.NORMAL, "room ended")
        elif outcome == DRAIN:
            conn.close(close_codes.GOING_AWAY, "server going away")
        else:
            conn.close(close_codes.NORMAL, "left the waiting room")
        return False

    async def _await(
        self, conn: Connection, decision: asyncio.Future[str], receive: Receive | None
    ) -> str:
        if receive is None:
            return await decision
        while True:
            reading = asyncio.ensure_future(receive())
            pending: set[asyncio.Future[Any]] = {decision, reading}
            done, _ = await asyncio.wait(pending, return_when="FIRST_COMPLETED")
            if reading not in done:
                # receiving is cancellation-safe: no frame is lost
                await cancel_and_wait(reading)
                return decision.result()
            frame = reading.result()
            if frame is None or self._answer(conn, frame):
                return GONE

    def _answer(self, conn: Connection, frame: str | bytes) -> bool:
        """Answer a waiting client's frame: ``ping`` gets ``pong``, anything else ``error``
        ``waiting``; True for ``leave`` (the wait ends)."""
        try:
            message = decode(frame, conn.codec, self._node.settings.limits)
        except ProtocolError:
            message = None
        if message is not None and message.type == "leave":
            return True
        if isinstance(message, Ping):
            conn.send(pong_message(message.rid, message.ts, self._node.clock()))
            return False
        rid = message.rid if message is not None else None
        conn.send(error_message("waiting", "you are waiting for the host to let you in", rid=rid))
        return False

    def on_decision(self, event: WaitingDecision) -> None:
        """A host's decision on one of this node's waiters (from the bus)."""
        decision = self._waiters.get(event.to)
        if decision is not None and not decision.done():
            decision.set_result(event.decision)

    async def room_ended(self, session_id: str) -> None:
        """The class ended: everyone waiting is sent home (``room-ended``)."""
        taken = await self.store.take(session_id, None, let_in=False)
        await self._tell(session_id, taken, ENDED)

    def drain(self) -> None:
        """This node goes away: its waiters are closed with 1001 (they reconnect and wait
        on another node)."""
        self._stopped = True
        for handle in self._lists.values():
            handle.cancel()
        self._lists.clear()
        for decision in self._waiters.values():
            if not decision.done():
                decision.set_result(DRAIN)

    # -- the host's side ---------------------------------------------------------------------

    async def handle(self, conn: Connection, message: WaitingRequest) -> None:
        """Carry out a host's waiting-room request (decoded with every other client message,
        passed on by ``ParticipantLogic`` as ``ManageWaitingRoom``): always answered with an
        ``ack`` or an ``error``, never raises."""
        with answering(conn, message.type, message.rid):
            conn.send(await self._handle(conn, message))

    async def _handle(self, conn: Connection, message: WaitingRequest) -> WireMessage:
        """One ``case`` per member of :data:`~rooms.waiting_messages.WaitingRequest`: one
        added without a case fails mypy (``assert_never``) and
        tests/signaling/test_tool_dispatch.py."""
        grant = conn.grant
        if grant is None or not grant.can_moderate:
            raise Forbidden("only the host runs the waiting room", code="forbidden")
        match message:
            case WaitingRoomSwitch():
                await self.set_enabled(conn.session_id, message.enabled)
                return ack_message(message.rid, enabled=message.enabled)
            case WaitingAdmit() | WaitingRefuse():
                ids = None if message.id is None else [message.id]
                admit = isinstance(message, WaitingAdmit)
                count = await self.decide(conn.session_id, ids, admit=admit)
                return ack_message(message.rid, count=count)
            case _:
                assert_never(message)

    async def set_enabled(self, session_id: str, enabled: bool) -> None:
        """Turn the waiting room on or off; off lets everyone waiting in."""
        await self.store.set_enabled(session_id, enabled)
        if not enabled:
            await self.decide(session_id, None, admit=True)
        self.schedule_list(session_id)

    async def decide(self, session_id: str, ids: list[str] | None, *, admit: bool) -> int:
        """Let in (``admit``) or refuse the waiters ``ids`` (everyone without); returns how
        many. :class:`NotFound` (``waiter_not_found``) for one id nobody waits with."""
        taken = await self.store.take(session_id, ids, let_in=admit)
        if ids is not None and not taken:
            raise NotFound("nobody waits with that id", code="waiter_not_found")
        await self._tell(session_id, taken, ADMIT if admit else REFUSE)
        return len(taken)

    async def _tell(self, session_id: str, waiters: list[Waiter], decision: str) -> None:
        node = self._node
        for waiter in waiters:
            event = WaitingDecision(session_id, waiter.id, decision, node.node_id)
            await node.bus.publish_to_node(waiter.node, event)
        if waiters:
            self.schedule_list(session_id)

    async def send_list(self, conn: Connection) -> None:
        """The waiting list, for a host who just joined."""
        sid = conn.session_id
        enabled = await self.store.enabled(sid)
        conn.send(waiting_list_message(enabled, await self.store.waiting(sid)))

    def schedule_list(self, session_id: str) -> None:
        """Send the hosts the list soon (one message for every change meanwhile)."""
        if session_id in self._lists or self._stopped:
            return

        def publish() -> None:
            self._lists.pop(session_id, None)
            self._node.spawn(self._publish_list(session_id))

        loop = asyncio.get_running_loop()
        self._lists[session_id] = loop.call_later(self._list_interval, publish)

    async def _publish_list(self, session_id: str) -> None:
        try:
            enabled = await self.store.enabled(session_id)
            message = waiting_list_message(enabled, await self.store.waiting(session_id))
            await self._node.bus.publish(
                RoomMessage(session_id, message, self._node.node_id, audience="hosts")
            )
        except Exception as exc:  # the next change sends a fresh list
            log.warning("waiting list for %s not sent: %r", session_id, exc)
