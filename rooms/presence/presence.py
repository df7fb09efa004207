"""Presence on Redis (or Redis Cluster): every change is one atomic Lua script over the
room's keys (``rooms/keys.py``), so any number of ``liveclass serve`` nodes can admit into one
room at once and the capacity still holds. The semantics are
:class:`rooms.presence.base.Presence`'s.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from rooms.keys import epoch_key
from rooms.presence.base import Presence, refuse, room_full
from rooms.presence.entries import (
    Admission,
    Departure,
    MustWait,
    PresenceEntry,
    PurgeListener,
    ResumeSave,
    RoomNotLoaded,
    RoomSnapshot,
)
from rooms.redis_batch import RedisBatch
from rooms.waiting_room import RedisWaitingRoom

__all__ = [
    "Admission",
    "Departure",
    "MustWait",
    "Presence",
    "PresenceEntry",
    "PurgeListener",
    "RedisPresence",
    "ResumeSave",
    "RoomNotLoaded",
    "RoomSnapshot",
]


def _load_scripts() -> dict[str, str]:
    folder = resources.files("rooms.presence").joinpath("scripts")
    prelude = folder.joinpath("_purge.lua").read_text()
    return {
        name: prelude + "\n" + folder.joinpath(f"{name}.lua").read_text()
        for name in ("admit", "leave", "purge", "refresh", "ban", "close", "load", "roster")
    }


_SOURCES = _load_scripts()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisPresence(Presence):
    """Presence and capacity of every room, over one Redis client."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "lc",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(prefix=prefix, clock=clock)
        self._redis = redis
        # Every script goes through it: a join storm's admissions share round trips.
        self._batch = RedisBatch.of(redis)
        self._waiting_room = RedisWaitingRoom(redis, prefix=prefix)
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(source) for name, source in _SOURCES.items()
        }

    @property
    def waiting_room(self) -> RedisWaitingRoom:
        return self._waiting_room

    async def _run(self, name: str, session_id: str, *args: Any) -> Any:
        keys = self.keys(session_id).presence_keys()
        return await self._batch.script(self._scripts[name], keys, args)

    async def load_room(
        self, session_id: str, status: str, capacity: int, banned: Sequence[str] = ()
    ) -> None:
        """Mirror the room's durable state into Redis (on start, capacity change, reload),
        with the users ``banned`` from it."""
        await self._run("load", session_id, status, capacity, *banned)

    async def admit(
        self,
        session_id: str,
        entry: PresenceEntry,
        ttl_seconds: float,
        *,
        resume: ResumeSave | None = None,
        may_wait: bool = False,
    ) -> Admission:
        """See :meth:`Presence.admit`: the waiting-room check, the resume token, the
        publish permission and the room's sequence number (``Admission.seq``) ride on the
        admission script's round trip."""
        now = self.now_ms()
        keys = self.keys(session_id)
        reply = await self._batch.script(
            self._scripts["admit"],
            [
                *keys.presence_keys(),
                keys.publishers,
                keys.resume,
                keys.waiting_room,
                keys.let_in,
                keys.seq,
            ],
            [
                now,
                now + int(ttl_seconds * 1000),
                entry.participant_id,
                entry.user_id,
                entry.to_json(),
                "1" if entry.takes_seat else "0",
                "1" if entry.hidden else "0",
                resume.token if resume else "",
                max(resume.ttl_seconds, 3600) if resume else 0,
                (resume.replaces or "") if resume else "",
                "1" if may_wait else "0",
            ],
        )
        verdict = _text(reply[0])
        count, seats, capacity = int(reply[1]), int(reply[2]), int(reply[3])
        refuse(verdict, session_id)
        purged = [PresenceEntry.from_json(raw) for raw in reply[7:]]
        await self._purged(session_id, purged)
        if verdict == "full":
            raise room_full(capacity)
        replaced = PresenceEntry.from_json(reply[4]) if reply[4] else None
        return Admission(
            entry=entry,
            count=count,
            seats=seats,
            capacity=capacity,
            rejoined=verdict == "again",
            replaced=replaced,
            purged=purged,
            publish_allowed=bool(int(reply[5])),
            seq=int(reply[6]),
        )

    async def leave(self, session_id: str, participant_id: str) -> Departure:
        """Remove one participant; ``entry`` is None when it was not present."""
        reply = await self._run("leave", session_id, participant_id)
        entry = PresenceEntry.from_json(reply[0]) if reply[0] else None
        return Departure(entry=entry, count=int(reply[1]), seats=int(reply[2]))

    async def ban(self, session_id: str, user_id: str) -> Departure:
        """Ban ``user_id`` from the room (admit refuses it from now on) and remove it."""
        reply = await self._run("ban", session_id, user_id)
        entry = PresenceEntry.from_json(reply[0]) if reply[0] else None
        return Departure(entry=entry, count=int(reply[1]), seats=int(reply[2]))

    async def unban(self, session_id: str, user_id: str) -> None:
        """Admit ``user_id`` again (the host undid a removal)."""
        await self._redis.srem(self.keys(session_id).bans, user_id)

    async def is_banned(self, session_id: str, user_id: str) -> bool:
        return bool(await self._redis.sismember(self.keys(session_id).bans, user_id))

    async def allow_publish(self, session_id: str, user_id: str, allowed: bool) -> None:
        """Remember (or forget) that the host let ``user_id`` publish: their next connection
        (a resume, a reload) keeps the permission their room token does not carry."""
        key = self.keys(session_id).publishers
        if allowed:
            await self._redis.sadd(key, user_id)
        else:
            await self._redis.srem(key, user_id)

    async def purge(self, session_id: str) -> list[PresenceEntry]:
        """Drop expired entries now; returns them (the :meth:`on_purged` listener was told)."""
        reply = await self._run("purge", session_id, self.now_ms())
        purged = [PresenceEntry.from_json(raw) for raw in reply[2:]]
        await self._purged(session_id, purged)
        return purged

    async def refresh(
        self, session_id: str, participant_ids: Sequence[str], ttl_seconds: float
    ) -> list[str]:
        """Heartbeat ``participant_ids``; returns those no longer present (purged elsewhere)."""
        if not participant_ids:
            return []
        expires = self.now_ms() + int(ttl_seconds * 1000)
        reply = await self._run("refresh", session_id, expires, *participant_ids)
        return [_text(pid) for pid in reply]

    async def gone(self, session_id: str, participant_ids: Sequence[str]) -> dict[str, str]:
        """Why each of ``participant_ids`` (no longer present, see :meth:`refresh`) left:
        ``replaced`` (the user connected again), ``left``, ``banned``, ``ended`` or
        ``expired``; ``""`` when not known (older than 10 minutes, or Redis lost it). Each
        reason is told once (the node that held the participant asks)."""
        if not participant_ids:
            return {}
        key = self.keys(session_id).gone
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(key, list(participant_ids))
            pipe.hdel(key, *participant_ids)
            reasons, _ = await pipe.execute()
        return {
            pid: _text(reason) if reason is not None else ""
            for pid, reason in zip(participant_ids, reasons, strict=True)
        }

    async def close(self, session_id: str, status: str) -> list[PresenceEntry]:
        """Mark the room ``status`` (ended/cancelled) and remove everybody; returns them."""
        reply = await self._run("close", session_id, status)
        return [PresenceEntry.from_json(raw) for raw in reply]

    async def snapshot(self, session_id: str) -> RoomSnapshot:
        """The room's state and every present participant. Expired entries are purged first
        (and the :meth:`on_purged` listener told); a presence without a listener (a media
        worker's) leaves them to the nodes and only leaves them out."""
        if self._on_purged is not None:
            await self.purge(session_id)
        keys = self.keys(session_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.room, ["status", "capacity"])
            pipe.hvals(keys.members)
            pipe.zrangebyscore(keys.expiry, "-inf", self.now_ms())
            room, members, expired = await pipe.execute()
        status = _text(room[0]) if room[0] is not None else None
        capacity = int(room[1]) if room[1] is not None else 0
        gone = {_text(pid) for pid in expired}
        entries = sorted(
            (e for e in map(PresenceEntry.from_json, members) if e.participant_id not in gone),
            key=lambda e: (e.joined_at_ms, e.participant_id),
        )
        return RoomSnapshot(status=status, capacity=capacity, entries=entries)

    async def small_roster(
        self, session_id: str, at_most: int, *, purge: bool = True
    ) -> list[PresenceEntry] | None:
        """The visible participants, oldest first (expired ones purged first), or None when
        there are more than ``at_most`` of them: then nothing is decoded, which matters
        when hundreds join a large room at once. Without ``purge`` (a caller whose admission
        purged a moment ago: one script fewer per join) expired entries are left out but
        left for the next purge."""
        if purge:
            await self.purge(session_id)
        # Counted in Redis first: members are sent (and decoded) only for a small room.
        reply = await self._run("roster", session_id, at_most, "" if purge else self.now_ms())
        if not int(reply[0]):
            return None
        gone = {_text(pid) for pid in reply[1]}
        entries = sorted(
            (PresenceEntry.from_json(raw) for raw in reply[2]),
            key=lambda e: (e.joined_at_ms, e.participant_id),
        )
        return [e for e in entries if not e.hidden and e.participant_id not in gone]

    async def counts(self, session_ids: Sequence[str]) -> dict[str, int]:
        """Visible participant counts of many rooms in one round trip (may include entries
        that expired since the last purge; :meth:`snapshot` is exact)."""
        if not session_ids:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in session_ids:
                keys = self.keys(sid)
                pipe.hlen(keys.members)
                pipe.scard(keys.hidden)
            replies = await pipe.execute()
        return {
            sid: int(replies[2 * i]) - int(replies[2 * i + 1]) for i, sid in enumerate(session_ids)
        }

    async def entry(self, session_id: str, participant_id: str) -> PresenceEntry | None:
        raw = await self._redis.hget(self.keys(session_id).members, participant_id)
        return PresenceEntry.from_json(raw) if raw else None

    async def participant_of(self, session_id: str, user_id: str) -> str | None:
        """The participant id ``user_id`` currently has in the room, if any."""
        raw = await self._redis.hget(self.keys(session_id).users, user_id)
        return _text(raw) if raw else None

    async def tally(self, session_id: str) -> tuple[int, int]:
        """``(count, seats)`` as Redis holds them now (entries that expired but were not yet
        purged still count until the next purge)."""
        keys = self.keys(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hlen(keys.members)
            pipe.scard(keys.hidden)
            pipe.scard(keys.seats)
            members, hidden, seats = await pipe.execute()
        return int(members) - int(hidden), int(seats)

    async def resume_target(self, session_id: str, token: str) -> str | None:
        """The participant ``token`` resumes, if any."""
        raw = await self._redis.hget(self.keys(session_id).resume, token)
        return _text(raw) if raw else None

    async def drop_resume(self, session_id: str, token: str) -> None:
        await self._redis.hdel(self.keys(session_id).resume, token)

    async def epoch(self) -> bytes:
        """The data epoch of this Redis: a random value stored once (``lc:epoch``). It
        changes exactly when Redis lost its data (a restart without persistence, a flush):
        a node that sees it change re-asserts its participants instead of dropping them."""
        key = epoch_key(self._prefix)
        value = await self._redis.get(key)
        if value is None:
            await self._redis.set(key, secrets.token_hex(8), nx=True)
            value = await self._redis.get(key)
        return _text(value or b"").encode()

    async def forget_room(self, session_id: str) -> None:
        """Delete every key of the room (when the session itself is deleted)."""
        keys = self.keys(session_id)
        await self._redis.delete(
            *keys.presence_keys(), keys.seq, keys.log, keys.resume, keys.publishers
        )
