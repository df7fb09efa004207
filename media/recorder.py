"""Recording one room: the forwarded frames of a router, remuxed into one WebM file.

A :class:`Recorder` watches a room's :class:`~media.router.Router` (on the room's origin
worker, where the publishers send) and taps the same encoded frames the forwarder hands to
subscribers (:attr:`media.fanout.TrackFanout.taps`): nothing is decoded. It records one
video and one audio source, on one timeline each: the video of a screen being shared (the
newest one), else the first camera (VP8); the first microphone (Opus), else a screen's sound.
When a better track appears (a screen share starts) or the recorded one ends (the share stops,
its publisher left), the recording switches to the best one left. H.264 video cannot go into
WebM and is not recorded.

Video is held until a keyframe, whenever a source (re)starts: the recorder asks the publisher
for one (PLI, throttled by the track) and asks again on every delta frame it has to drop.

Owner's duty: ``attach(router)`` once, then ``await stop()`` exactly once; it detaches and
finalizes the file (in a thread) and returns the :class:`~media.webm.WebmResult`. A write
error (a full disk, say) stops recording at once; ``stop()`` then raises it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from media.fanout import MediaFrame, TrackFanout
from media.router import TrackWatcher
from media.webm import OPUS_CLOCK, VP8_CLOCK, Kind, TrackTimeline, WebmResult, WebmWriter

__all__ = ["RECORDABLE", "Recorder", "TrackSource"]

log = logging.getLogger("liveclass.media.recorder")

#: The codec recorded for each kind (what WebM holds).
RECORDABLE: dict[str, str] = {"video": "video/vp8", "audio": "audio/opus"}


class TrackSource(Protocol):
    """What the recorder needs of a room (a :class:`~media.router.Router`)."""

    @property
    def tracks(self) -> list[TrackFanout]: ...

    def watch(self, watcher: TrackWatcher) -> None: ...

    def unwatch(self, watcher: TrackWatcher) -> None: ...


@dataclass(slots=True)
class _Input:
    kind: Kind
    timeline: TrackTimeline
    track: TrackFanout | None = None
    holding: bool = True
    tap: Callable[[MediaFrame], None] | None = None
    dropped: int = field(default=0)


class Recorder:
    """One recording of one room, into ``path`` (a ``.webm`` file)."""

    def __init__(
        self,
        recording_id: str,
        path: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        header_wait: float = 3.0,
    ) -> None:
        self.recording_id = recording_id
        self.path = path
        self._clock = clock
        self._started_at = clock()
        self._writer = WebmWriter(path, header_wait=header_wait)
        self._inputs: dict[str, _Input] = {
            "video": _Input("video", TrackTimeline(VP8_CLOCK)),
            "audio": _Input("audio", TrackTimeline(OPUS_CLOCK)),
        }
        self._router: TrackSource | None = None
        self._stopped = False
        self.error: BaseException | None = None

    @property
    def sources(self) -> dict[str, str | None]:
        """The track recorded for each kind now (None: none)."""
        return {k: i.track.track_id if i.track else None for k, i in self._inputs.items()}

    @property
    def duration(self) -> float:
        """Seconds of media recorded so far."""
        return self._writer.duration

    @property
    def dropped(self) -> int:
        """Video frames dropped while waiting for a keyframe."""
        return sum(i.dropped for i in self._inputs.values())

    def attach(self, router: TrackSource) -> None:
        """Start recording ``router``'s tracks (those published now and later)."""
        self._router = router
        router.watch(self)
        for kind in self._inputs:
            self._choose(kind)

    # -- TrackWatcher -----------------------------------------------------------------

    def track_added(self, track: TrackFanout) -> None:
        if track.kind in self._inputs and track.codec.mime_type.lower() != RECORDABLE[track.kind]:
            log.info("recording %s: %s not recordable in WebM", self.recording_id, track)
        self._choose(track.kind)

    def track_ended(self, track: TrackFanout) -> None:
        entry = self._inputs.get(track.kind)
        if entry is not None and entry.track is track:
            self._switch(entry, None)
            self._choose(track.kind)

    def _choose(self, kind: str) -> None:
        """Record the best track of ``kind`` the room has: for video, the newest screen share,
        else the first camera; for audio, the first microphone, else a screen's sound."""
        entry = self._inputs.get(kind)
        if entry is None or self._router is None or self._stopped:
            return
        candidates = [
            t
            for t in self._router.tracks
            if t.kind == kind and not t.ended and t.codec.mime_type.lower() == RECORDABLE[kind]
        ]
        screens = [t for t in candidates if t.source == "screen"]
        cameras = [t for t in candidates if t.source == "camera"]
        if kind == "video":
            best = screens[-1] if screens else next(iter(cameras), None)
        else:
            best = next(iter(cameras or screens), None)
        if best is not None and best is not entry.track:
            self._switch(entry, best)

    # -- frames -----------------------------------------------------------------------

    def _switch(self, entry: _Input, track: TrackFanout | None) -> None:
        if entry.track is not None and entry.tap in entry.track.taps:
            entry.track.taps.remove(entry.tap)
        entry.track, entry.tap = track, None
        entry.holding = entry.kind == "video"
        entry.timeline.rebase()
        if track is None:
            return

        def tap(frame: MediaFrame) -> None:
            self._frame(entry, frame)

        entry.tap = tap
        track.taps.append(tap)
        if entry.holding:
            track.request_keyframe()
        log.info("recording %s: %s from %s", self.recording_id, entry.kind, track.track_id)

    def _frame(self, entry: _Input, frame: MediaFrame) -> None:
        if self._stopped:
            return
        if entry.holding:
            if not frame.keyframe:
                entry.dropped += 1
                if entry.track is not None:
                    entry.track.request_keyframe()
                return
            entry.holding = False
        pts = entry.timeline.pts(frame.timestamp, self._clock() - self._started_at)
        try:
            self._writer.write(entry.kind, frame.data, pts, frame.keyframe)
        except Exception as exc:
            log.exception("recording %s: writing failed; recording stops", self.recording_id)
            self.error = exc
            self._detach()
            return
        entry.timeline.note_written(pts)

    # -- stopping -----------------------------------------------------------------------

    def _detach(self) -> None:
        self._stopped = True
        for entry in self._inputs.values():
            self._switch(entry, None)
        router, self._router = self._router, None
        if router is not None:
            router.unwatch(self)

    async def stop(self) -> WebmResult:
        """Stop recording and finalize the file (trailer: duration, cues)."""
        self._detach()
        result = await asyncio.to_thread(self._writer.close)
        if self.error is not None:
            raise self.error
        return result
