"""What every presence offers: who is in which room, and whether one more may come in.

Two implementations keep exactly these semantics (``tests/rooms/test_presence.py`` is their
common contract): :class:`rooms.presence.presence.RedisPresence` (Lua scripts on Redis or
Redis Cluster: any number of nodes admit into one room at once) and
:class:`rooms.presence.local.LocalPresence` (plain dicts in this process: the embedded single
node, where fakeredis executing the scripts was the largest cost of a join).

- ``admit``: purge expired entries, refuse banned users, refuse rooms that are not live,
  replace an older connection of the same user, refuse when every seat is taken. Hosts and
  observers never take a seat and are never refused for capacity.
- ``leave``, ``ban``, ``close``: remove entries and report what was removed, so the caller can
  close attendance and tell the room.
- ``refresh``: the heartbeat. Every entry has an expiry; the node holding a connection pushes it
  forward. An entry whose node died expires and is purged by the next call that touches the
  room (and by the periodic sweep), so a dead node's participants vanish within the TTL.

Whoever purges tells the room: every call that drops expired entries (``admit``, ``purge``,
and the reads that purge first) hands them to the listener set with :meth:`Presence.on_purged`
(the node closes their attendance and announces the leaves), so no read can make a
participant vanish silently and leave a ghost in the hosts' live rosters.

A room's state (``status``, ``capacity``) is mirrored from the durable store with
:meth:`Presence.load_room`. When presence lost it (a Redis restart, eviction), ``admit``
raises :class:`RoomNotLoaded` and the caller reloads it from the store and retries.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from rooms.errors import Banned, InvalidState, RoomFull
from rooms.keys import RoomKeys
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
from rooms.waiting_room import WaitingRoom

log = logging.getLogger("liveclass.presence")

__all__ = ["Presence", "refuse", "room_full"]


def refuse(verdict: str, session_id: str) -> None:
    """Raise what an admission ``verdict`` other than ``ok``/``again``/``full`` means
    (``unknown``, ``not_live:<status>``, ``banned``, ``wait``); return for the others."""
    if verdict == "unknown":
        raise RoomNotLoaded(session_id)
    if verdict.startswith("not_live:"):
        status = verdict.split(":", 1)[1]
        raise InvalidState(
            f"the room is not live (it is {status})",
            code="room_not_live",
            details={"status": status},
        )
    if verdict == "banned":
        raise Banned("you were removed from this session by the host")
    if verdict == "wait":
        raise MustWait(session_id)


def room_full(capacity: int) -> RoomFull:
    """The refusal of a room whose ``capacity`` seats are all taken."""
    return RoomFull(
        f"the room is full ({capacity} of {capacity} seats taken)",
        details={"capacity": capacity},
    )


class Presence(ABC):
    """Presence and capacity of every room.

    ``clock`` returns seconds since the epoch; tests pass a fake one to expire entries.
    """

    def __init__(self, *, prefix: str, clock: Callable[[], float]) -> None:
        self._prefix = prefix
        self._clock = clock
        self._on_purged: PurgeListener | None = None
        self._telling: set[asyncio.Task[None]] = set()

    def on_purged(self, listener: PurgeListener) -> None:
        """Have ``listener`` told of every expired entry any purge removes (one listener:
        the node's, which closes their attendance and tells the room)."""
        self._on_purged = listener

    async def _purged(self, session_id: str, purged: list[PresenceEntry]) -> None:
        if not purged or self._on_purged is None:
            return
        # Shielded: the entries are gone already, so a caller cancelled meanwhile (a client
        # hung up on a REST read) must not keep the room from hearing it.
        task = asyncio.ensure_future(self._on_purged(session_id, purged))
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "telling room %s of %d expired entries failed: %r", session_id, len(purged), exc
            )

    def keys(self, session_id: str) -> RoomKeys:
        return RoomKeys(session_id, self._prefix)

    @property
    @abstractmethod
    def waiting_room(self) -> WaitingRoom:
        """The classes' waiting rooms this presence's admission reads (``may_wait``): the
        hub's :class:`signaling.waiting_room.Lobby` keeps them."""

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    @abstractmethod
    async def load_room(
        self, session_id: str, status: str, capacity: int, banned: Sequence[str] = ()
    ) -> None:
        """Mirror the room's durable state (on start, capacity change, reload), with the
        users ``banned`` from it."""

    @abstractmethod
    async def admit(
        self,
        session_id: str,
        entry: PresenceEntry,
        ttl_seconds: float,
        *,
        resume: ResumeSave | None = None,
        may_wait: bool = False,
    ) -> Admission:
        """Admit ``entry`` to the room, or raise.

        Raises :class:`RoomNotLoaded` (load the room and retry), :class:`InvalidState` with
        code ``room_not_live``, :class:`Banned`, or :class:`RoomFull`. With ``may_wait`` (a
        student who is not resuming), raises :class:`MustWait` and admits nothing when the
        room's waiting room is on and the user was not let in (``rooms/waiting_room.py``'s
        keys). A second admit of the same participant id only refreshes its expiry
        (``rejoined``).

        Once admitted, in the same step: ``resume``'s token is saved for the grace period
        (at least an hour; the token it replaces forgotten), and the admission tells whether
        the host let the entry's user publish (:meth:`allow_publish`).
        """

    @abstractmethod
    async def leave(self, session_id: str, participant_id: str) -> Departure:
        """Remove one participant; ``entry`` is None when it was not present."""

    @abstractmethod
    async def ban(self, session_id: str, user_id: str) -> Departure:
        """Ban ``user_id`` from the room (admit refuses it from now on) and remove it."""

    @abstractmethod
    async def unban(self, session_id: str, user_id: str) -> None:
        """Admit ``user_id`` again (the host undid a removal)."""

    @abstractmethod
    async def is_banned(self, session_id: str, user_id: str) -> bool: ...

    @abstractmethod
    async def allow_publish(self, session_id: str, user_id: str, allowed: bool) -> None:
        """Remember (or forget) that the host let ``user_id`` publish: their next connection
        (a resume, a reload) keeps the permission their room token does not carry."""

    @abstractmethod
    async def purge(self, session_id: str) -> list[PresenceEntry]:
        """Drop expired entries now; returns them (the :meth:`on_purged` listener was told)."""

    @abstractmethod
    async def refresh(
        self, session_id: str, participant_ids: Sequence[str], ttl_seconds: float
    ) -> list[str]:
        """Heartbeat ``participant_ids``; returns those no longer present (purged elsewhere)."""

    @abstractmethod
    async def gone(self, session_id: str, participant_ids: Sequence[str]) -> dict[str, str]:
        """Why each of ``participant_ids`` (no longer present, see :meth:`refresh`) left:
        ``replaced`` (the user connected again), ``left``, ``banned``, ``ended`` or
        ``expired``; ``""`` when not known (older than 10 minutes, or presence lost it). Each
        reason is told once (the node that held the participant asks)."""

    @abstractmethod
    async def close(self, session_id: str, status: str) -> list[PresenceEntry]:
        """Mark the room ``status`` (ended/cancelled) and remove everybody; returns them."""

    @abstractmethod
    async def snapshot(self, session_id: str) -> RoomSnapshot:
        """The room's state and every present participant. Expired entries are purged first
        (and the :meth:`on_purged` listener told); a presence without a listener (a media
        worker's) leaves them to the nodes and only leaves them out."""

    @abstractmethod
    async def small_roster(
        self, session_id: str, at_most: int, *, purge: bool = True
    ) -> list[PresenceEntry] | None:
        """The visible participants, oldest first (expired ones purged first), or None when
        there are more than ``at_most`` of them: then nothing is decoded, which matters
        when hundreds join a large room at once. Without ``purge`` (a caller whose admission
        purged a moment ago) expired entries are left out but left for the next purge."""

    @abstractmethod
    async def counts(self, session_ids: Sequence[str]) -> dict[str, int]:
        """Visible participant counts of many rooms at once (may include entries that
        expired since the last purge; :meth:`snapshot` is exact)."""

    @abstractmethod
    async def entry(self, session_id: str, participant_id: str) -> PresenceEntry | None: ...

    @abstractmethod
    async def participant_of(self, session_id: str, user_id: str) -> str | None:
        """The participant id ``user_id`` currently has in the room, if any."""

    @abstractmethod
    async def tally(self, session_id: str) -> tuple[int, int]:
        """``(count, seats)`` as held now (entries that expired but were not yet purged
        still count until the next purge)."""

    @abstractmethod
    async def resume_target(self, session_id: str, token: str) -> str | None:
        """The participant ``token`` resumes, if any."""

    @abstractmethod
    async def drop_resume(self, session_id: str, token: str) -> None: ...

    @abstractmethod
    async def epoch(self) -> bytes:
        """The data epoch of this presence. It changes exactly when presence lost its data
        (a Redis restart without persistence, a flush): a node that sees it change
        re-asserts its participants instead of dropping them."""

    @abstractmethod
    async def forget_room(self, session_id: str) -> None:
        """Forget everything about the room, its sequence and log included (when the
        session itself is deleted)."""
