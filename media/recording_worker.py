"""A media worker's recordings: ``record`` commands from the API, one recorder per room.

The API (:class:`rooms.server_recordings.ServerRecordings`) sends a room's origin worker a
``record`` event on the worker's channel: ``{"action": "start"|"stop", "recording": id,
"path": storage path}``. The worker queues it on the room's inbox (so it runs in order with
the room's signalling, on the room's router) and calls :class:`RecordingDesk`:

- ``start``: a :class:`~media.recorder.Recorder` is attached to the room's router, writing
  ``<recordings dir>/<path>``. A second start for a room already recording fails the new
  recording (the API refuses that case before sending it).
- ``stop``, the room ending, the worker stopping cleanly: the recorder stops, the file is
  finalized and the row goes ``ready`` (size, duration); a recording that got no media, or
  whose writing failed, goes ``failed``.

A worker that dies loses its recorders; the API nodes' sweeper fails their rows.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from media.recorder import Recorder
from media.router import Router
from rooms.bus_events import RecordCommand
from rooms.server_recordings import ServerRecordings

__all__ = ["RecordingDesk"]

log = logging.getLogger("liveclass.media.recording")


@dataclass(slots=True)
class _Active:
    recording_id: str
    recorder: Recorder


class RecordingDesk:
    """The recordings one worker is writing, at most one per room."""

    def __init__(self, store: ServerRecordings, *, header_wait: float = 3.0) -> None:
        self._store = store
        self._header_wait = header_wait
        self.active: dict[str, _Active] = {}
        #: Remux cost of the recordings finished here (for the logs and the bench).
        self.packets = 0
        self.mux_seconds = 0.0

    def recorder_of(self, session_id: str) -> Recorder | None:
        active = self.active.get(session_id)
        return active.recorder if active else None

    async def command(self, session_id: str, router: Router | None, event: RecordCommand) -> None:
        """One ``record`` event for ``session_id`` (``router``: the room's, if open)."""
        rid = event.recording
        if event.action == "start":
            await self.start(session_id, router, rid, event.path or "")
        else:
            active = self.active.get(session_id)
            if active is not None and active.recording_id == rid:
                await self.finish(session_id)
            else:  # never started here (or already finished): do not leave it in progress
                await self._store.fail(rid, "the media worker was not recording it")

    async def start(
        self, session_id: str, router: Router | None, recording_id: str, storage_path: str
    ) -> None:
        if router is None or not storage_path or session_id in self.active:
            reason = "the room is already being recorded" if router else "the room is not open"
            await self._store.fail(recording_id, reason)
            return
        try:
            recorder = Recorder(
                recording_id,
                self._store.path_of(storage_path),
                header_wait=self._header_wait,
            )
        except Exception as exc:
            log.exception("recording %s could not start", recording_id)
            await self._store.fail(recording_id, f"the file could not be created: {exc}")
            return
        recorder.attach(router)
        self.active[session_id] = _Active(recording_id, recorder)
        log.info("recording %s of room %s started", recording_id, session_id)

    async def finish(self, session_id: str) -> None:
        """Stop the room's recording (if any) and settle its row."""
        active = self.active.pop(session_id, None)
        if active is None:
            return
        rid = active.recording_id
        try:
            result = await active.recorder.stop()
        except Exception as exc:
            await self._store.fail(rid, f"writing the recording failed: {exc}")
            return
        self.packets += result.packets
        self.mux_seconds += result.mux_seconds
        log.info(
            "recording %s of room %s: %d packets, %.1f s, %d bytes, %.0f µs/packet remux",
            rid,
            session_id,
            result.packets,
            result.duration_seconds,
            result.size_bytes,
            result.micros_per_packet,
        )
        if result.empty:
            await self._store.fail(rid, "nothing was published while recording")
            return
        settled = await self._store.finish(
            rid, size_bytes=result.size_bytes, duration_seconds=result.duration_seconds
        )
        if settled is None:  # failed meanwhile (the sweeper thought this worker dead)
            with contextlib.suppress(OSError):
                result.path.unlink(missing_ok=True)

    async def close(self) -> None:
        """The worker stops: finish every recording."""
        for session_id in list(self.active):
            try:
                await self.finish(session_id)
            except Exception:
                log.exception("recording of room %s not finished", session_id)
