"""A room's voices: who speaks (:class:`~media.speakers.ActiveSpeakers`) and whose microphone
is muted, told to the room when it changes.

The router feeds it each publisher's audio levels and the mute states participants report
(``signal`` ``mute`` to the SFU); a background loop looks every ``interval`` seconds (0.25:
at most four messages a second, however many people talk) and calls ``on_change`` with
``{"speakers": [...], "muted": [...]}`` (participant ids; speakers loudest first) when it
differs from what it last told, and again every ``repeat`` seconds while someone speaks (the
hubs count talk time from these messages, signaling/talk_time.py: a repeat tells them the
speech goes on, so they can cap the interval a lost message would count). A mute change is
told at once.

Owner's duty: ``await close()`` (it cancels the loop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from media.speakers import ActiveSpeakers
from media.tasks import cancel_and_wait

__all__ = ["MediaState", "RoomVoices"]

MediaState = dict[str, list[str]]


class RoomVoices:
    def __init__(
        self,
        on_change: Callable[[MediaState], None],
        *,
        interval: float = 0.25,
        repeat: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_change = on_change
        self._interval = interval
        self._repeat = repeat
        self._told_at = 0.0
        self._clock = clock
        self._speakers = ActiveSpeakers()
        self._muted: set[str] = set()
        self._told: MediaState = {"speakers": [], "muted": []}
        self._loop: asyncio.Task[None] | None = None

    @property
    def state(self) -> MediaState:
        """What was last told (what a participant arriving now should be sent)."""
        return self._told

    def level_of(self, participant_id: str) -> Callable[[int], None]:
        """The per-packet callback for ``participant_id``'s microphone; starts the loop."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(
                self._run(), name="media-room-voices"
            )
        speakers, clock = self._speakers, self._clock

        def level(value: int) -> None:
            speakers.level(participant_id, value, clock())

        return level

    def set_muted(self, participant_id: str, muted: bool) -> None:
        """``participant_id`` muted or unmuted their microphone."""
        if muted:
            self._muted.add(participant_id)
        else:
            self._muted.discard(participant_id)
        self._tell()

    def forget(self, participant_id: str) -> None:
        """They stopped publishing their microphone (camera off, left): neither speaking nor
        muted."""
        self._speakers.remove(participant_id)
        if participant_id in self._muted:
            self._muted.discard(participant_id)
            self._tell()

    def _tell(self) -> None:
        now = self._clock()
        state = {"speakers": self._speakers.speaking(now), "muted": sorted(self._muted)}
        if state != self._told or (state["speakers"] and now - self._told_at >= self._repeat):
            self._told, self._told_at = state, now
            self._on_change(state)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self._tell()

    async def close(self) -> None:
        await cancel_and_wait(self._loop)
        self._loop = None
