"""The teaching tools over WebSocket (polls, hands, reactions, chat moderation, the microphone
lock): the hub decodes their requests with every other client message
(rooms/teaching_messages.py) and ``ParticipantLogic`` passes them here (:meth:`Teaching.handle`,
through the ``Teach`` effect); REST handlers call :meth:`Teaching.announce` after changing a
poll, so the room hears of it the same way.

Permissions: the host (and moderators) create, launch, close and share polls; students vote;
hidden observers do neither. Every request is answered with an ``ack`` or an ``error`` (a
teaching request has its own per-connection rate limit: ``rate_limited`` past it).

Live tallies go to the hosts only, coalesced per poll (at most one per ``tally_interval``
seconds, read fresh from the store: a storm of 500 votes is a handful of messages, not 500).
Reactions are batched the same way (``rooms/reactions.py``): one ``reactions`` message per
room and node every ``reaction_interval`` seconds, and each connection may react
``reaction_rate`` times a second (a burst of ``reaction_burst``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, assert_never

from rooms.bus_events import Audience, RoomMessage
from rooms.bus_port import Bus
from rooms.chat import ChatService
from rooms.chat_moderation import MicLock
from rooms.errors import Forbidden, NotFound, RateLimited, Unavailable
from rooms.poll_store import PollStore
from rooms.polls import Close, Closed, Command, Event, Launch, Launched, Share, Shared, Vote, Voted
from rooms.presence import Presence, PresenceEntry
from rooms.protocol_models import WireMessage
from rooms.reactions import ReactionBatch
from rooms.room_log import RoomLog
from rooms.server_messages import HandRaised
from rooms.store.types import utcnow
from rooms.teaching_messages import (
    ChatDelete,
    ChatMode,
    HandLower,
    MicLockSet,
    MuteAll,
    PollClose,
    PollCreate,
    PollLaunch,
    PollShare,
    PollVote,
    React,
    Reactions,
    TeachingRequest,
)
from rooms.tokens import RoomGrant
from signaling.answering import answering
from signaling.connection import Connection
from signaling.protocol import ack_message, error_message
from signaling.ratelimit import TokenBucket
from signaling.teaching_protocol import (
    Person,
    chat_deleted_message,
    chat_mode_message,
    hands_lowered_message,
    mic_lock_message,
    mute_all_message,
    poll_message,
    poll_results_message,
    poll_tally_message,
)

__all__ = ["Teaching"]

log = logging.getLogger("liveclass.teaching")


class Teaching:
    def __init__(
        self,
        *,
        node_id: str,
        polls: PollStore,
        chat: ChatService,
        next_seq: Callable[[str], Awaitable[int]],
        room_log: RoomLog,
        bus: Bus,
        clock: Callable[[], float],
        presence: Presence,
        rate: float = 5.0,
        burst: float = 20.0,
        tally_interval: float = 0.25,
        reaction_rate: float = 1.0,
        reaction_burst: float = 3.0,
        reaction_interval: float = 0.5,
    ) -> None:
        self.polls = polls
        self._chat = chat
        #: Whether students' microphones are locked muted (rooms/chat_moderation.py).
        self.mic_lock = MicLock(room_log.redis)
        self._presence = presence
        self._reaction_rate = reaction_rate
        self._reaction_burst = reaction_burst
        self._reaction_interval = reaction_interval
        self._reaction_buckets: dict[int, TokenBucket] = {}
        self._reactions: dict[str, ReactionBatch] = {}
        self._node_id = node_id
        self._next_seq = next_seq
        self._log = room_log
        self._bus = bus
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._tally_interval = tally_interval
        self._buckets: dict[int, TokenBucket] = {}
        self._tallies: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, conn: Connection, message: TeachingRequest) -> None:
        """Carry out a teaching request from ``conn`` (decoded with every other client
        message, and passed on by ``ParticipantLogic``): always answered with an ``ack`` or
        an ``error``, never raises."""
        bucket = _bucket(self._buckets, conn, self._rate, self._burst)
        if not bucket.take(self._clock()):
            conn.send(
                error_message("rate_limited", "too many requests; slow down", rid=message.rid)
            )
            return
        with answering(conn, message.type, message.rid):
            await self._handle(conn, message)

    async def _handle(self, conn: Connection, message: TeachingRequest) -> None:
        """One ``case`` per member of :data:`~rooms.teaching_messages.TeachingRequest`: one
        added without a case fails mypy (``assert_never``) and
        tests/signaling/test_teaching_dispatch.py."""
        grant, entry, sid = conn.grant, conn.entry, conn.session_id
        assert grant is not None
        assert entry is not None
        match message:
            case React():
                if grant.hidden:
                    raise Forbidden("observers do not react", code="forbidden")
                bucket = _bucket(
                    self._reaction_buckets, conn, self._reaction_rate, self._reaction_burst
                )
                if not bucket.take(self._clock()):
                    raise RateLimited(
                        "one reaction a second at most; slow down",
                        details={"retryAfter": 1.0 / self._reaction_rate},
                    )
                self._react(sid, entry, message.emoji)
                conn.send(ack_message(message.rid))
            case ChatDelete() | ChatMode():
                if not grant.can_moderate:
                    raise Forbidden("only the host moderates the chat", code="forbidden")
                if isinstance(message, ChatDelete):
                    row = await self._chat.remove(sid, message.id)
                    await self.chat_deleted(sid, row.id, row.seq)
                else:
                    await self.set_student_chat(sid, message.studentChat, who(entry))
                conn.send(ack_message(message.rid))
            case MuteAll() | MicLockSet():
                if not grant.can_moderate:
                    raise Forbidden("only the host mutes everyone", code="forbidden")
                if isinstance(message, MuteAll):
                    await self.mute_all(sid, message.lock, who(entry))
                else:
                    await self.set_mic_lock(sid, message.locked, who(entry))
                conn.send(ack_message(message.rid))
            case HandLower():
                if not grant.can_moderate:
                    raise Forbidden("only the host lowers other people's hands", code="forbidden")
                await self._lower_hands(sid, entry, message.target)
                conn.send(ack_message(message.rid))
            case PollVote():
                if grant.can_moderate or grant.hidden:
                    raise Forbidden("the host runs the poll; students vote", code="forbidden")
                vote = Vote(entry.user_id, entry.name, tuple(message.choices), utcnow())
                poll, events = await self.polls.run(sid, message.poll, vote)
                await self.announce(sid, events)
                choices = list(poll.ballots[entry.user_id].choices)
                conn.send(ack_message(message.rid, poll=poll.id, choices=choices))
            case PollCreate():
                _host_runs_polls(grant)
                poll = await self.polls.create(
                    sid,
                    question=message.question,
                    options=list(message.options),
                    multiple=message.multiple,
                    correct=list(message.correct) if message.correct is not None else None,
                    anonymous=message.anonymous,
                    created_by=entry.user_id,
                )
                if message.launch:
                    poll, events = await self.polls.run(sid, poll.id, Launch(utcnow()))
                    await self.announce(sid, events)
                conn.send(ack_message(message.rid, poll=poll.id, status=poll.status))
            case PollLaunch():
                await self._run_poll(conn, message.poll, Launch(utcnow()), message.rid)
            case PollClose():
                await self._run_poll(conn, message.poll, Close(utcnow()), message.rid)
            case PollShare():
                await self._run_poll(conn, message.poll, Share(), message.rid)
            case _:
                assert_never(message)

    async def _run_poll(
        self, conn: Connection, poll_id: str, command: Command, rid: str | None
    ) -> None:
        """A host's command on a poll (launch, close, share), announced and acked."""
        assert conn.grant is not None
        _host_runs_polls(conn.grant)
        sid = conn.session_id
        poll, events = await self.polls.run(sid, poll_id, command)
        await self.announce(sid, events)
        conn.send(ack_message(rid, poll=poll.id, status=poll.status))

    async def chat_deleted(self, session_id: str, message_id: str, deleted_seq: int) -> None:
        """A chat message was deleted (here or over REST): out of the replay log, and every
        client removes it (``chat-deleted``)."""
        tombstone = chat_deleted_message(deleted_seq, message_id, deleted_seq)
        await self._log.replace(session_id, deleted_seq, tombstone)
        seq = await self._next_seq(session_id)
        await self._reliable(session_id, chat_deleted_message(seq, message_id, deleted_seq))

    async def set_student_chat(self, session_id: str, allowed: bool, by: Person | None) -> None:
        """Let students chat or not, and tell the room (``chat-mode``)."""
        gate = self._chat.gate
        if gate is None:
            raise Unavailable("chat moderation is not configured", code="unavailable")
        await gate.set_students_may_chat(session_id, allowed)
        seq = await self._next_seq(session_id)
        await self._reliable(session_id, chat_mode_message(seq, allowed, by))

    async def mute_all(self, session_id: str, lock: bool, by: Person | None) -> None:
        """Every student's client mutes its microphone (``mute-all``); with ``lock`` they
        stay muted until the host unlocks them."""
        if lock:
            await self.mic_lock.set_locked(session_id, True)
        seq = await self._next_seq(session_id)
        await self._reliable(session_id, mute_all_message(seq, lock, by))

    async def set_mic_lock(self, session_id: str, locked: bool, by: Person | None) -> None:
        await self.mic_lock.set_locked(session_id, locked)
        seq = await self._next_seq(session_id)
        await self._reliable(session_id, mic_lock_message(seq, locked, by))

    async def _lower_hands(self, sid: str, host: PresenceEntry, target: str | None) -> None:
        by = who(host)
        seq = await self._next_seq(sid)
        if target is None:
            await self._reliable(sid, hands_lowered_message(seq, by))
            return
        entry = await self._presence.entry(sid, target)
        if entry is None:
            raise NotFound("no such participant in this room", code="participant_not_found")
        message = HandRaised(seq=seq, from_=who(entry), raised=False, by=by).wire()
        await self._reliable(sid, message)

    def _react(self, sid: str, entry: PresenceEntry, emoji: str) -> None:
        batch = self._reactions.get(sid)
        if batch is None:
            batch = self._reactions[sid] = ReactionBatch()

            def flush() -> None:
                done = self._reactions.pop(sid, None)
                if done is not None and done.total:
                    reactions = Reactions.model_validate(done.message()).wire()
                    self._spawn(self._publish(sid, reactions, "all"))

            asyncio.get_running_loop().call_later(self._reaction_interval, flush)
        batch.add(entry.participant_id, entry.name, emoji)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def announce(self, session_id: str, events: list[Event]) -> None:
        """Tell the room what happened to a poll (from a WebSocket request or REST)."""
        for event in events:
            if isinstance(event, Launched | Closed):
                seq = await self._next_seq(session_id)
                await self._reliable(session_id, poll_message(seq, event.poll))
                if isinstance(event, Closed):
                    await self._publish(session_id, poll_tally_message(event.poll), "hosts")
            elif isinstance(event, Shared):
                seq = await self._next_seq(session_id)
                await self._reliable(session_id, poll_results_message(seq, event.poll))
            elif isinstance(event, Voted):
                self._schedule_tally(session_id, event.poll.id)

    async def _reliable(self, session_id: str, message: WireMessage) -> None:
        event = self._event(session_id, message, "all")
        await self._log.publish(session_id, int(message["seq"]), event, self._bus)

    async def _publish(self, session_id: str, message: WireMessage, audience: Audience) -> None:
        await self._bus.publish(self._event(session_id, message, audience))

    def _event(self, session_id: str, message: WireMessage, audience: Audience) -> RoomMessage:
        return RoomMessage(
            session_id, message, self._node_id, audience=audience, sent_at=self._clock()
        )

    def _schedule_tally(self, session_id: str, poll_id: str) -> None:
        key = (session_id, poll_id)
        if key in self._tallies:
            return
        self._tallies.add(key)

        asyncio.get_running_loop().call_later(
            self._tally_interval, lambda: self._spawn(self._send_tally(key))
        )

    async def _send_tally(self, key: tuple[str, str]) -> None:
        self._tallies.discard(key)
        session_id, poll_id = key
        try:
            poll = await self.polls.get(session_id, poll_id)
            await self._publish(session_id, poll_tally_message(poll), "hosts")
        except Exception as exc:  # the next vote sends a fresh tally
            log.warning("poll tally for %s not sent: %r", poll_id, exc)


def _host_runs_polls(grant: RoomGrant) -> None:
    if not grant.can_moderate:
        raise Forbidden("only the host runs polls", code="forbidden")


def who(entry: PresenceEntry) -> Person:
    """A participant as messages name them (``from``, ``by``)."""
    return {
        "id": entry.participant_id,
        "userId": entry.user_id,
        "name": entry.name,
        "role": entry.role.value,
    }


def _bucket(
    buckets: dict[int, TokenBucket], conn: Connection, rate: float, burst: float
) -> TokenBucket:
    """The connection's bucket (kept by the connection's identity; the table is reset when it
    grows past 10 000 connections, which only forgives a few requests)."""
    bucket = buckets.get(id(conn))
    if bucket is None:
        if len(buckets) > 10_000:
            buckets.clear()
        bucket = buckets[id(conn)] = TokenBucket(rate, burst)
    return bucket
