"""The teaching tools over WebSocket (polls): the hub hands it the frames whose type it does
not know (``Hub._receive``), and REST handlers call :meth:`Teaching.announce` after changing
a poll, so the room hears of it the same way.

Permissions: the host (and moderators) create, launch, close and share polls; students vote;
hidden observers do neither. Every request is answered with an ``ack`` or an ``error`` (a
teaching request has its own per-connection rate limit: ``rate_limited`` past it).

Live tallies go to the hosts only, coalesced per poll (at most one per ``tally_interval``
seconds, read fresh from the store: a storm of 500 votes is a handful of messages, not 500).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rooms.bus import BusEvent, RoomBus
from rooms.errors import Forbidden, LiveclassError
from rooms.poll_store import PollStore
from rooms.polls import Close, Closed, Command, Event, Launch, Launched, Share, Shared, Vote, Voted
from rooms.room_log import RoomLog
from rooms.store.types import utcnow
from signaling.connection import Connection
from signaling.protocol import ProtocolError, ack_message, error_message
from signaling.ratelimit import TokenBucket
from signaling.teaching_protocol import (
    PollAction,
    PollCreate,
    PollVote,
    decode_teaching,
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
        next_seq: Callable[[str], Awaitable[int]],
        room_log: RoomLog,
        bus: RoomBus,
        clock: Callable[[], float],
        rate: float = 5.0,
        burst: float = 20.0,
        tally_interval: float = 0.25,
    ) -> None:
        self.polls = polls
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

    async def receive(self, conn: Connection, frame: str | bytes) -> bool:
        """Handle ``frame`` if it is a teaching message (True), else leave it (False)."""
        try:
            message = decode_teaching(frame, conn.codec)
        except ProtocolError as exc:
            conn.send(error_message(exc.code, exc.message, rid=exc.rid, details=exc.details))
            return True
        if message is None:
            return False
        bucket = self._buckets.get(id(conn))
        if bucket is None or len(self._buckets) > 10_000:
            if len(self._buckets) > 10_000:
                self._buckets.clear()
            bucket = self._buckets[id(conn)] = TokenBucket(self._rate, self._burst)
        if not bucket.take(self._clock()):
            conn.send(
                error_message("rate_limited", "too many requests; slow down", rid=message.rid)
            )
            return True
        try:
            await self._handle(conn, message)
        except LiveclassError as exc:
            conn.send(error_message(exc.code, exc.message, rid=message.rid, details=exc.details))
        except Exception as exc:
            log.warning("%s failed: %r", message.type, exc)
            conn.send(
                error_message(
                    "unavailable",
                    "a backing service is unavailable; it was not done, try again",
                    rid=message.rid,
                )
            )
        return True

    async def _handle(self, conn: Connection, message: PollCreate | PollAction | PollVote) -> None:
        grant, entry, sid = conn.grant, conn.entry, conn.session_id
        assert grant is not None
        assert entry is not None
        if isinstance(message, PollVote):
            if grant.can_moderate or grant.hidden:
                raise Forbidden("the host runs the poll; students vote", code="forbidden")
            vote = Vote(entry.user_id, entry.name, tuple(message.choices), utcnow())
            poll, events = await self.polls.run(sid, message.poll, vote)
            await self.announce(sid, events)
            choices = list(poll.ballots[entry.user_id].choices)
            conn.send(ack_message(message.rid, poll=poll.id, choices=choices))
            return
        if not grant.can_moderate:
            raise Forbidden("only the host runs polls", code="forbidden")
        if isinstance(message, PollCreate):
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
            return
        command: Command = Share()
        if message.type == "poll-launch":
            command = Launch(utcnow())
        elif message.type == "poll-close":
            command = Close(utcnow())
        poll, events = await self.polls.run(sid, message.poll, command)
        await self.announce(sid, events)
        conn.send(ack_message(message.rid, poll=poll.id, status=poll.status))

    def forget(self, conn: Connection) -> None:
        """The connection is gone: drop its rate-limit state."""
        self._buckets.pop(id(conn), None)

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

    async def _reliable(self, session_id: str, message: dict[str, Any]) -> None:
        await self._log.append(session_id, int(message["seq"]), message)
        await self._publish(session_id, message, "all")

    async def _publish(self, session_id: str, message: dict[str, Any], audience: str) -> None:
        event = BusEvent(
            "msg",
            session_id,
            self._node_id,
            message=message,
            audience=audience,
            data={"ts": self._clock()},
        )
        await self._bus.publish(event)

    def _schedule_tally(self, session_id: str, poll_id: str) -> None:
        key = (session_id, poll_id)
        if key in self._tallies:
            return
        self._tallies.add(key)

        def start() -> None:
            task = asyncio.get_running_loop().create_task(self._send_tally(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        asyncio.get_running_loop().call_later(self._tally_interval, start)

    async def _send_tally(self, key: tuple[str, str]) -> None:
        self._tallies.discard(key)
        session_id, poll_id = key
        try:
            poll = await self.polls.get(session_id, poll_id)
            await self._publish(session_id, poll_tally_message(poll), "hosts")
        except Exception as exc:  # the next vote sends a fresh tally
            log.warning("poll tally for %s not sent: %r", poll_id, exc)
