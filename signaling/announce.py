"""Presence announcements, coalesced per room before they go on the bus.

Every join and leave is announced to every node (a ``presence`` bus event). Receivers already
batch them per tick (see :mod:`signaling.local_room`), but a join storm still published one
event per join: one Redis round trip for the joining connection and one event for every node
to decode. :class:`PresenceAnnouncer` publishes like a group commit: the first announcement
of a room goes out at once, and those that arrive while it is in flight are published
together in the next event. Each caller returns once the event carrying *its* change was
published (or raises what publishing raised), as when it published alone.

A participant appears at most once per event: a change for a participant already in the
waiting batch (a join then its leave) starts a new batch, so receivers still apply the
changes in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rooms.futures import cancel_and_wait, settle
from rooms.presence import PresenceEntry

__all__ = ["PresenceAnnouncer"]

#: Publishes one room's joined and left entries (one bus event).
Publish = Callable[[str, list[PresenceEntry], list[PresenceEntry]], Awaitable[None]]


@dataclass(slots=True)
class _Batch:
    joined: list[PresenceEntry] = field(default_factory=list)
    left: list[PresenceEntry] = field(default_factory=list)
    pids: set[str] = field(default_factory=set)
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def takes(self, joined: list[PresenceEntry], left: list[PresenceEntry]) -> bool:
        return not any(e.participant_id in self.pids for e in (*joined, *left))

    def add(self, joined: list[PresenceEntry], left: list[PresenceEntry]) -> None:
        self.joined.extend(joined)
        self.left.extend(left)
        self.pids.update(e.participant_id for e in (*joined, *left))


class PresenceAnnouncer:
    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        #: Per room: the batches not yet taken by its writer, oldest first.
        self._waiting: dict[str, list[_Batch]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}

    async def announce(
        self, session_id: str, joined: list[PresenceEntry], left: list[PresenceEntry]
    ) -> None:
        """Publish these changes of ``session_id``'s room; returns once they are published."""
        # shield: a caller that goes away must not cancel the event for the others.
        await asyncio.shield(self.enqueue(session_id, joined, left))

    def enqueue(
        self, session_id: str, joined: list[PresenceEntry], left: list[PresenceEntry]
    ) -> asyncio.Future[None]:
        """Queue these changes at once (no await: what is queued before the room's writer
        takes its next batch goes out together); the future resolves when the event
        carrying them was published, or fails with what publishing raised. Shared by every
        change of that event: do not cancel it, shield it."""
        if not joined and not left:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        waiting = self._waiting.setdefault(session_id, [])
        if not waiting or not waiting[-1].takes(joined, left):
            waiting.append(_Batch())
        batch = waiting[-1]
        batch.add(joined, left)
        if session_id not in self._writers:
            task = asyncio.get_running_loop().create_task(self._write(session_id))
            self._writers[session_id] = task
        return batch.done

    async def _write(self, session_id: str) -> None:
        batch: _Batch | None = None
        try:
            waiting = self._waiting.get(session_id)
            while waiting:
                batch = waiting.pop(0)
                try:
                    await self._publish(session_id, batch.joined, batch.left)
                except Exception as exc:
                    settle(batch.done, exc)
                else:
                    settle(batch.done, None)
                batch = None
        finally:
            self._writers.pop(session_id, None)
            rest = self._waiting.pop(session_id, [])
            # Cancelled (the hub stopping): what was not published counts as not announced.
            for left_over in ([batch] if batch is not None else []) + rest:
                settle(left_over.done, asyncio.CancelledError())

    async def stop(self) -> None:
        """Cancel the writers (their waiting callers get CancelledError)."""
        writers = list(self._writers.values())
        for task in writers:
            task.cancel()
        for task in writers:
            await cancel_and_wait(task)
