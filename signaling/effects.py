"""Carrying out what a participant's frame asks: decode it, let the connection's
``ParticipantLogic`` decide (sans-I/O), then execute each effect it returns (the effect
classes are defined in ``signaling/participant.py``): persist and broadcast chat, relay
signals, host actions, leaving, and the tools' requests: the teaching tools'
(signaling/teaching.py), the waiting room's (signaling/waiting_room.py) and private questions'
(signaling/questions.py).

A failed effect answers the request with an ``error`` message (the domain error's code, or
``unavailable`` when a backing service did not answer); the connection stays.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import assert_never

from rooms import errors
from rooms.activity import ActivityStore
from rooms.attendance import AttendanceService
from rooms.bans import Bans
from rooms.breakout_messages import BreakoutRequest
from rooms.bus_events import Direct, GrantChanged, RoomMessage
from rooms.chat import ChatService
from rooms.chat_delivery import ChatDraft, RoomDelivery, Sender
from rooms.identity import Principal, UserRole
from rooms.participation import RoomAdmitter
from rooms.presence import PresenceEntry
from rooms.room_log import RoomLog
from rooms.sessions import SessionService
from signaling import close_codes
from signaling.answering import UNAVAILABLE
from signaling.connection import Connection
from signaling.media_routing import MediaRouting
from signaling.messages import (
    chat_message,
    hand_message,
    kicked_message,
    mute_request_message,
    signal_message,
)
from signaling.node import Node
from signaling.participant import (
    AllowPublish,
    Breakout,
    BroadcastHand,
    Close,
    Effect,
    EndRoom,
    HandleQuestion,
    KickParticipant,
    LeaveRoom,
    ManageWaitingRoom,
    ParticipantLogic,
    PostChat,
    RelaySignal,
    Reply,
    RequestMute,
    Teach,
)
from signaling.presence_upkeep import PresenceUpkeep
from signaling.protocol import ProtocolError, ack_message, decode, error_message
from signaling.questions import QuestionDesk
from signaling.room_core import sender_view
from signaling.teaching import Teaching
from signaling.waiting_room import Lobby

__all__ = ["EffectRunner"]

log = logging.getLogger("liveclass.hub")


class EffectRunner:
    def __init__(
        self,
        node: Node,
        *,
        admitter: RoomAdmitter,
        activity: ActivityStore,
        attendance: AttendanceService,
        chat: ChatService,
        sessions: SessionService,
        room_log: RoomLog,
        bans: Bans,
        upkeep: PresenceUpkeep,
        media: MediaRouting,
        teaching: Teaching,
        lobby: Lobby,
        questions: QuestionDesk,
        deliver_here: Callable[[RoomMessage], None] | None = None,
    ) -> None:
        self._node = node
        #: Delivers a room event to this node's part of the room (the bus listener's).
        self._deliver_here = deliver_here
        self._teaching = teaching
        self._lobby = lobby
        self._questions = questions
        #: Breakout rooms' requests (signaling/breakouts.py; the hub sets it).
        self.breakouts: Callable[[Connection, BreakoutRequest], Awaitable[None]] = _no_breakouts
        self._presence = node.presence
        self._admitter = admitter
        self._attendance = attendance
        self._activity = activity
        self._chat = chat
        self._sessions = sessions
        self._log = room_log
        self._bans = bans
        self._upkeep = upkeep
        self._media = media
        #: How a WebSocket chat message reaches the room. Stored is accepted even when it
        #: could not be published: every node catches up from the store when its bus is back.
        self._room = self.chat_delivery(store_unsent=True)

    async def receive(self, conn: Connection, frame: str | bytes) -> None:
        """Handle one frame from ``conn``."""
        logic = conn.logic
        if logic is None or not conn.is_open:
            return
        with conn.handling():
            await self._receive(conn, logic, frame)

    async def _receive(self, conn: Connection, logic: ParticipantLogic, frame: str | bytes) -> None:
        metrics = self._node.metrics
        now = self._node.clock()
        try:
            message = decode(frame, conn.codec, self._node.settings.limits)
        except ProtocolError as exc:
            metrics.messages_in.labels("invalid").inc()
            effects = logic.refuse(exc)
        else:
            metrics.messages_in.labels(message.type).inc()
            effects = logic.handle(message, now)
        for effect in effects:
            try:
                await self.apply(conn, effect)
            except errors.RateLimited as exc:
                rid = getattr(effect, "rid", None)
                for follow in logic.limited(now, exc.message, rid):
                    await self.apply(conn, follow)
            except errors.LiveclassError as exc:
                conn.send(
                    error_message(
                        exc.code,
                        exc.message,
                        rid=getattr(effect, "rid", None),
                        details=exc.details,
                    )
                )
            except Exception as exc:
                # Redis or the database did not answer: the request failed, the connection
                # stays (the class goes on; the client may try again).
                log.warning("%s failed: %r", type(effect).__name__, exc)
                conn.send(
                    error_message(
                        "unavailable",
                        UNAVAILABLE,
                        rid=getattr(effect, "rid", None),
                    )
                )

    async def apply(self, conn: Connection, effect: Effect) -> None:
        """Carry out one effect ``ParticipantLogic`` returned for ``conn``: one ``case`` per
        member of :data:`~signaling.participant.Effect` (``assert_never``: mypy fails on an
        effect without one)."""
        assert conn.entry is not None
        assert conn.grant is not None
        node = self._node
        sid, entry = conn.session_id, conn.entry
        match effect:
            case Reply():
                conn.send(effect.message)
            case Close():
                node.metrics.closed.labels(str(effect.code)).inc()
                conn.close(effect.code, effect.reason)
            case PostChat():
                await self._post_chat(conn, effect)
            case RelaySignal():
                await self._relay_signal(conn, effect)
            case BroadcastHand():
                seq = await self._chat.next_seq(sid)
                message = hand_message(seq, sender_view(entry), effect.raised)
                await self._log.publish(sid, seq, node.room_message(sid, message), node.bus)
                if effect.raised:
                    await self._count_hand(sid, entry.user_id)
                conn.send(ack_message(effect.rid, seq=seq))
            case RequestMute():
                target = await self._target(sid, effect.target)
                message = mute_request_message(effect.kind, sender_view(entry))
                await self._direct(target, Direct(sid, message))
                conn.send(ack_message(effect.rid))
            case KickParticipant():
                await self._kick(conn, effect)
            case AllowPublish():
                target = await self._target(sid, effect.target)
                # Kept in Redis too: the grant outlives this connection (a resume, a reload).
                await self._presence.allow_publish(sid, target.user_id, effect.publish)
                await self._direct(target, GrantChanged(sid, effect.publish))
                conn.send(ack_message(effect.rid))
            case EndRoom():
                principal = Principal(
                    user_id=conn.grant.user_id,
                    name=conn.grant.name,
                    role=UserRole.INSTRUCTOR,
                    tenant=conn.grant.tenant,
                )
                transition = await self._sessions.end(principal, sid)
                await self._attendance.closed(sid, transition.removed)
                conn.send(ack_message(effect.rid))
                await node.room_ended(sid, "the host ended the class")
            case LeaveRoom():
                # Acked once done: the seat is free and the leave recorded when the client hears.
                await self._admitter.depart(sid, entry.participant_id)
                await self._presence.drop_resume(sid, conn.resume_token)
                conn.send(ack_message(effect.rid))
                conn.close(close_codes.NORMAL, "left")
                await node.release(conn)
                await self._upkeep.announce(sid, joined=[], left=[entry])
            case Teach():
                await self._teaching.handle(conn, effect.message)
            case ManageWaitingRoom():
                await self._lobby.handle(conn, effect.message)
            case HandleQuestion():
                await self._questions.handle(conn, effect.message)
            case Breakout():
                await self.breakouts(conn, effect.message)
            case _:
                assert_never(effect)

    async def _post_chat(self, conn: Connection, effect: PostChat) -> None:
        assert conn.entry is not None
        entry = conn.entry
        sender = Sender(entry.user_id, entry.name, entry.role, entry.participant_id)
        try:
            # Delivered, committed, then durable: the room waits for neither the commit nor
            # the flush; the acknowledgement waits for both. A message the room has but the
            # store could not keep is a LiveclassError saying so (details.delivered).
            row = await self._chat.store(conn.session_id, sender, effect.text, room=self._room)
        except errors.LiveclassError:
            raise
        except Exception as exc:
            log.warning("chat not stored in %s: %r", conn.session_id, exc)
            raise errors.Unavailable(
                "the message could not be saved; it was not sent, try again",
                code="unavailable",
            ) from exc
        conn.send(ack_message(effect.rid, id=row.id, seq=row.seq))

    def chat_delivery(self, *, store_unsent: bool = False) -> RoomDelivery:
        """How chat reaches the room: logged and broadcast, and delivered on this node as soon
        as it is published (``store_unsent``: see :class:`RoomDelivery`). Built once per use
        (WebSocket, REST), not per message."""

        def event(row: ChatDraft) -> RoomMessage:
            sender = {
                "id": row.sender_id,
                "userId": row.user_id,
                "name": row.user_name,
                "role": row.role,
            }
            message = chat_message(
                id=row.id, seq=row.seq, sender=sender, text=row.text, ts=row.created_at
            )
            return self._node.room_message(row.session_id, message)

        return RoomDelivery(
            self._log, self._node.bus, event, store_unsent=store_unsent, here=self._deliver_here
        )

    async def _relay_signal(self, conn: Connection, effect: RelaySignal) -> None:
        sid = conn.session_id
        if effect.to == "sfu":
            await self._media.to_media(conn, effect)
            return
        target = await self._target(sid, effect.to)
        message = signal_message(conn.participant_id, effect.kind, effect.payload)
        await self._direct(target, Direct(sid, message))
        if effect.rid is not None:
            conn.send(ack_message(effect.rid))

    async def _count_hand(self, sid: str, user_id: str) -> None:
        """One more hand raised by ``user_id`` (the analytics' count, one write). The hand is
        up for the room whatever happens here: a failed write is logged, not answered."""
        try:
            await self._activity.hand_raised(sid, user_id)
        except Exception as exc:
            log.warning("hand raised by %s not counted: %r", user_id, exc)

    async def _kick(self, conn: Connection, effect: KickParticipant) -> None:
        sid = conn.session_id
        target = await self._target(sid, effect.target)
        assert conn.grant is not None
        departure = await self._bans.ban(
            sid,
            target.user_id,
            user_name=target.name,
            banned_by=conn.grant.user_id,
            reason=effect.reason,
        )
        if departure.entry is not None:
            await self._attendance.closed(sid, [departure.entry])
        # A REST participant is banned and removed just the same: it has no socket to close.
        await self._upkeep.removed(
            sid,
            [departure.entry or target],
            code=close_codes.FORBIDDEN,
            reason="kicked",
            message=kicked_message(effect.reason),
        )
        conn.send(ack_message(effect.rid))

    async def _target(self, session_id: str, participant_id: str) -> PresenceEntry:
        entry = await self._presence.entry(session_id, participant_id)
        if entry is None:
            raise errors.NotFound("no such participant in this room", code="participant_not_found")
        return entry

    async def _direct(self, target: PresenceEntry, event: Direct | GrantChanged) -> None:
        event.to = target.participant_id
        event.origin = self._node.node_id
        if target.source != "ws":
            raise errors.Conflict(
                "that participant is not connected over WebSocket", code="not_connected"
            )
        await self._node.bus.publish_to_node(target.node, event)


async def _no_breakouts(conn: Connection, message: BreakoutRequest) -> None:
    conn.send(error_message("unavailable", "breakout rooms are not available", rid=message.rid))
