"""Talk time: how long each participant was an active speaker, from the SFU's speaker
updates (the ``speakers`` room message, media/room_voices.py).

Sans-I/O. :meth:`TalkClock.heard` is called with each update and its time. A participant
counts as speaking from the update that names them until the next update (which names them
again or not); an interval between two updates counts at most ``max_gap`` seconds, so a lost
update (or a worker that died) does not count minutes. The SFU repeats its update while
someone speaks (``RoomVoices(repeat=...)``), so a long speech is not cut by the cap.
:meth:`TalkClock.take` hands over what was counted so far (to persist it, in batches) and
starts again from zero; what is being spoken right now is counted up to ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["DEFAULT_MAX_GAP", "TalkClock"]

#: Seconds at most between two speaker updates that still count (the SFU repeats its
#: update every second while someone speaks; three missed in a row is a loss).
DEFAULT_MAX_GAP = 3.0


class TalkClock:
    """Seconds spoken per participant id of one room."""

    def __init__(self, *, max_gap: float = DEFAULT_MAX_GAP) -> None:
        if max_gap <= 0:
            raise ValueError("max_gap must be positive")
        self._max_gap = max_gap
        #: Speaking now, with the time their current interval began.
        self._speaking: dict[str, float] = {}
        #: Counted and not taken yet.
        self._seconds: dict[str, float] = {}

    @property
    def speaking(self) -> set[str]:
        """Who the last update named (and is not over the gap yet)."""
        return set(self._speaking)

    def heard(self, speakers: Iterable[str], now: float) -> None:
        """An update at ``now`` naming who speaks (an empty one: nobody)."""
        for pid in list(self._speaking):
            self._count(pid, now)
        self._speaking = dict.fromkeys(speakers, now)

    def stop(self, participant_id: str, now: float) -> None:
        """``participant_id`` left (or stopped publishing): count them up to ``now``."""
        if participant_id in self._speaking:
            self._count(participant_id, now)
            del self._speaking[participant_id]

    def take(self, now: float) -> dict[str, float]:
        """The seconds counted (up to ``now`` for those speaking) since the last take, per
        participant with any."""
        for pid in list(self._speaking):
            if self._count(pid, now):
                self._speaking[pid] = now
            else:
                del self._speaking[pid]  # no update for too long: lost
        taken = {pid: s for pid, s in self._seconds.items() if s > 0}
        self._seconds.clear()
        return taken

    def _count(self, pid: str, now: float) -> bool:
        """Add ``pid``'s current interval up to ``now``; False when it is over the gap."""
        elapsed = now - self._speaking[pid]
        if elapsed > 0:
            self._seconds[pid] = self._seconds.get(pid, 0.0) + min(elapsed, self._max_gap)
        return elapsed <= self._max_gap

    def __bool__(self) -> bool:
        """Anything to take, or anyone speaking."""
        return bool(self._seconds or self._speaking)
