"""This node's share of the talk time (issue 17): the seconds each of *its own* participants
spoke, counted from the SFU's ``speakers`` room messages (rooms/talk_time.py) and added to
``participant_activity`` (rooms/activity.py) in batches: when one of them leaves and every
``HubSettings.talk_flush_interval`` seconds, never per update.

Every node hears every speakers message of its rooms; each counts only the participants
whose connection it holds, so nobody is counted twice. What a flush could not write (the
database did not answer) is kept and written by the next one.
"""

from __future__ import annotations

import asyncio
import logging

from rooms.activity import ActivityStore
from rooms.talk_time import TalkClock
from signaling.connection import Connection
from signaling.node import Node

__all__ = ["TalkKeeper"]

log = logging.getLogger("liveclass.hub")


class TalkKeeper:
    def __init__(self, node: Node, store: ActivityStore) -> None:
        self._node = node
        self._store = store
        #: Per session: its local participants' clock.
        self._clocks: dict[str, TalkClock] = {}
        #: Participant id → user id, for the participants counted here.
        self._users: dict[str, str] = {}
        #: Seconds taken from the clocks and not written yet: (session, user) → seconds.
        self._pending: dict[tuple[str, str], float] = {}
        self._lock = asyncio.Lock()

    def heard(self, session_id: str, speakers: list[str]) -> None:
        """A ``speakers`` room message for ``session_id`` arrived (who speaks now)."""
        room = self._node.rooms.get(session_id)
        local: list[str] = []
        if room is not None:
            for pid in speakers:
                conn = room.conns.get(pid)
                if conn is not None and conn.entry is not None:
                    self._users[pid] = conn.entry.user_id
                    local.append(pid)
        clock = self._clocks.get(session_id)
        if clock is None:
            if not local:
                return
            clock = self._clocks[session_id] = TalkClock()
        clock.heard(local, self._node.clock())

    def left(self, conn: Connection) -> None:
        """``conn`` is released: its participant stops speaking here; written soon."""
        clock = self._clocks.get(conn.session_id)
        if clock is not None and conn.participant_id in self._users:
            clock.stop(conn.participant_id, self._node.clock())
            self._node.spawn(self.flush())

    async def flush(self) -> None:
        """Write what was counted so far (one transaction per session)."""
        async with self._lock:
            now = self._node.clock()
            for sid, clock in list(self._clocks.items()):
                for pid, seconds in clock.take(now).items():
                    user = self._users.get(pid)
                    if user is not None:
                        key = (sid, user)
                        self._pending[key] = self._pending.get(key, 0.0) + seconds
                if not clock:
                    del self._clocks[sid]
            live = set(self._node.by_pid)
            speaking = set().union(*(c.speaking for c in self._clocks.values()))
            for pid in set(self._users) - live - speaking:
                del self._users[pid]
            by_session: dict[str, dict[str, float]] = {}
            for (sid, user), seconds in self._pending.items():
                by_session.setdefault(sid, {})[user] = seconds
            for sid, seconds_by_user in by_session.items():
                try:
                    await self._store.add_talk(sid, seconds_by_user)
                except Exception as exc:
                    log.warning("talk time of %s not written yet: %r", sid, exc)
                    continue
                for user in seconds_by_user:
                    self._pending.pop((sid, user), None)
