"""Server recordings: a media worker records a live room into a WebM file.

The state of one recording lives in its ``recordings`` row (source ``server``)::

    recording ──stop──► processing ──worker finalized──► ready
        │                   │
        └───────────────────┴──worker lost, writing failed, nothing published──► failed

- :meth:`ServerRecordings.start` (the host, over REST): the room must be live and not already
  recording. The room is placed on its media worker (its *origin*, where publishers send);
  the row is written with that worker's id, then the worker is told over the bus
  (``record`` event, ``action: start``) to record into ``<recordings dir>/<storage_path>``.
- :meth:`ServerRecordings.stop` (the host): the row goes to ``processing`` and the worker is
  told to stop; it finalizes the file and calls :meth:`finish`. A room that ends stops its
  recording the same way (the worker sees the room's ``ended`` event).
- :meth:`finish` / :meth:`fail` (the worker): ``ready`` with size and duration, or ``failed``
  with the reason. Both are no-ops (None) on a recording that is no longer in progress.
- :meth:`sweep` (every API node, every ``LIVECLASS_RECORDING_SWEEP_SECONDS``): a recording in
  progress whose worker is not alive in the media registry (the same liveness the hub uses to
  move the room to another worker) is ``failed``: never left "recording" forever.

Every status change enqueues its webhook (``recording.started``/``ready``/``failed``) in the
same transaction, and is announced to the room as a ``recording`` message with the room's
``seq`` (kept in the room's reliable log, so a resuming client gets it too).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rooms.access import can_manage
from rooms.bus_events import Record, RecordCommand, RoomMessage
from rooms.bus_port import Bus
from rooms.errors import Conflict, Forbidden, NotFound, Unavailable
from rooms.identity import Principal
from rooms.ids import new_id
from rooms.media_registry import MediaRegistry
from rooms.model import RecordingSource, RecordingStatus, SessionStatus
from rooms.protocol_models import Recording, WireMessage
from rooms.recordings import RecordingService
from rooms.room_log import RoomLog
from rooms.session_lookup import load_session
from rooms.store import Database
from rooms.store.tables import RecordingRow, SessionRow
from rooms.store.types import utcnow
from rooms.webhooks import recording_changed

__all__ = ["ServerRecordings", "recording_message"]

log = logging.getLogger("liveclass.recordings")

_IN_PROGRESS = (RecordingStatus.RECORDING.value, RecordingStatus.PROCESSING.value)
#: The room message statuses for each row status.
_ANNOUNCED = {
    RecordingStatus.RECORDING.value: "started",
    RecordingStatus.READY.value: "ready",
    RecordingStatus.FAILED.value: "failed",
}


def recording_message(seq: int, row: RecordingRow) -> WireMessage:
    """The room's ``recording`` message for ``row``'s status (fields are only ever added)."""
    ready = row.status == RecordingStatus.READY.value
    return Recording(
        seq=seq,
        status=_ANNOUNCED.get(row.status, row.status),
        recordingId=row.id,
        duration=row.duration_seconds if ready else None,
        size=row.size_bytes if ready else None,
        reason=row.error if row.status == RecordingStatus.FAILED.value else None,
    ).wire()


class ServerRecordings:
    """Start, stop, finish and sweep server recordings (see the module docstring).

    ``next_seq(session_id)`` hands out the room's sequence numbers (the chat service's).
    """

    def __init__(
        self,
        database: Database,
        files: RecordingService,
        *,
        registry: MediaRegistry,
        bus: Bus,
        room_log: RoomLog,
        next_seq: Callable[[str], Awaitable[int]],
        origin: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = database
        self._files = files
        self._registry = registry
        self._bus = bus
        self._log = room_log
        self._next_seq = next_seq
        self._origin = origin
        self._clock = clock

    def path_of(self, storage_path: str) -> Path:
        """Where the file of a recording with ``storage_path`` is written."""
        return self._files.root / storage_path

    # -- the host (REST) ----------------------------------------------------------------

    async def start(self, principal: Principal, ref: str) -> RecordingRow:
        """Start recording a live room. 403 ``not_session_owner``, 409 ``room_not_live`` /
        ``recording_in_progress``, 503 ``sfu_unavailable`` (no media worker alive)."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
        self._require_host(principal, session)
        self._require_live(session)
        worker = await self._registry.place(session.id)
        if worker is None:
            raise Unavailable("no media worker is available to record", code="sfu_unavailable")
        now = utcnow()
        async with self._db.transaction() as tx:
            fresh = await tx.get(SessionRow, session.id, with_for_update=True)
            if fresh is None:
                raise NotFound("session not found", code="session_not_found")
            self._require_live(fresh)
            active = await self._active(tx, fresh.id)
            if active is not None:
                raise Conflict(
                    "this session is already being recorded",
                    code="recording_in_progress",
                    details={"recordingId": active.id, "status": active.status},
                )
            rid = new_id()
            row = RecordingRow(
                id=rid,
                session_id=fresh.id,
                tenant_id=fresh.tenant_id,
                source=RecordingSource.SERVER.value,
                status=RecordingStatus.RECORDING.value,
                filename=f"{_slug(fresh.room_name)}-{now:%Y%m%d-%H%M%S}.webm",
                content_type="video/webm",
                storage_path=f"{fresh.id}/{rid}.webm",
                created_by=principal.user_id,
                created_at=now,
                started_at=now,
                worker_id=worker,
            )
            tx.add(row)
            await recording_changed(tx, row)
        try:
            await self._command(worker, row, "start")
        except Exception as exc:
            log.warning("recording %s: worker %s not reached: %r", row.id, worker, exc)
            await self.fail(row.id, "the media worker could not be reached")
            raise Unavailable(
                "the media worker could not be reached", code="sfu_unavailable"
            ) from exc
        await self._announce(row)
        return row

    async def stop(self, principal: Principal, ref: str) -> RecordingRow:
        """Stop the room's recording: ``processing`` until the worker finalized the file.
        Stopping one already ``processing`` sends the worker the command again. 403
        ``not_session_owner``, 409 ``not_recording``."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            self._require_host(principal, session)
            row = await self._active(tx, session.id, lock=True)
            if row is None:
                raise Conflict("this session is not being recorded", code="not_recording")
            if row.status == RecordingStatus.RECORDING.value:
                row.status = RecordingStatus.PROCESSING.value
                row.stopped_at = utcnow()
                await recording_changed(tx, row)
            # else: already stopping; the command is sent again (pub/sub may have lost it)
        if row.worker_id:
            try:
                await self._command(row.worker_id, row, "stop")
            except Exception as exc:  # the sweeper fails it if the worker is gone for good
                log.warning("recording %s: stop not sent: %r", row.id, exc)
        return row

    # -- the media worker -----------------------------------------------------------------

    async def finish(
        self, recording_id: str, *, size_bytes: int, duration_seconds: float
    ) -> RecordingRow | None:
        """The worker finalized the file: ``ready`` (None if no longer in progress)."""
        async with self._db.transaction() as tx:
            row = await self._in_progress(tx, recording_id)
            if row is None:
                return None
            row.status = RecordingStatus.READY.value
            row.size_bytes = size_bytes
            row.duration_seconds = round(duration_seconds, 3)
            row.stopped_at = row.stopped_at or utcnow()
            row.worker_id = None
            session = await tx.get(SessionRow, row.session_id, with_for_update=True)
            if session is not None and session.recording_url is None:
                session.recording_url = self._files.download_path(row.id)
                session.updated_at = utcnow()
            await recording_changed(tx, row)
        await self._announce(row)
        return row

    async def fail(self, recording_id: str, reason: str) -> RecordingRow | None:
        """The recording failed: ``failed`` with ``reason``, its partial file removed (None
        if no longer in progress)."""
        async with self._db.transaction() as tx:
            row = await self._in_progress(tx, recording_id)
            if row is None:
                return None
            self._mark_failed(row, reason)
            await recording_changed(tx, row)
        await self._settle_failed([row])
        return row

    # -- the sweeper ----------------------------------------------------------------------

    async def sweep(self) -> list[RecordingRow]:
        """Fail every recording in progress whose media worker is not alive."""
        alive = set(await self._registry.alive())
        failed: list[RecordingRow] = []
        async with self._db.transaction() as tx:
            rows = (
                await tx.execute(
                    select(RecordingRow)
                    .where(
                        RecordingRow.source == RecordingSource.SERVER.value,
                        RecordingRow.status.in_(_IN_PROGRESS),
                    )
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
            for row in rows:
                if row.worker_id in alive:
                    continue
                self._mark_failed(row, f"the media worker {row.worker_id} stopped while recording")
                await recording_changed(tx, row)
                failed.append(row)
        if failed:
            log.warning("recordings of lost media workers failed: %s", [r.id for r in failed])
            await self._settle_failed(failed)
        return failed

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    def _require_host(principal: Principal, session: SessionRow) -> None:
        if not can_manage(principal, session):
            raise Forbidden(
                "only the session's instructor or a tenant admin records it",
                code="not_session_owner",
            )

    @staticmethod
    def _require_live(session: SessionRow) -> None:
        if session.status != SessionStatus.LIVE.value:
            raise Conflict(
                f"only a live session can be recorded (this one is {session.status})",
                code="room_not_live",
                details={"status": session.status},
            )

    @staticmethod
    async def _active(tx: Any, session_id: str, *, lock: bool = False) -> RecordingRow | None:
        query = (
            select(RecordingRow)
            .where(
                RecordingRow.session_id == session_id,
                RecordingRow.source == RecordingSource.SERVER.value,
                RecordingRow.status.in_(_IN_PROGRESS),
            )
            .order_by(RecordingRow.created_at.desc())
            .limit(1)
        )
        if lock:
            query = query.with_for_update()
        row: RecordingRow | None = (await tx.execute(query)).scalar_one_or_none()
        return row

    @staticmethod
    async def _in_progress(tx: Any, recording_id: str) -> RecordingRow | None:
        row: RecordingRow | None = await tx.get(RecordingRow, recording_id, with_for_update=True)
        if row is None or row.status not in _IN_PROGRESS:
            return None
        return row

    @staticmethod
    def _mark_failed(row: RecordingRow, reason: str) -> None:
        row.status = RecordingStatus.FAILED.value
        row.error = reason
        row.stopped_at = row.stopped_at or utcnow()
        row.worker_id = None

    async def _settle_failed(self, rows: list[RecordingRow]) -> None:
        for row in rows:
            if row.storage_path:
                try:
                    self.path_of(row.storage_path).unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("recording %s: partial file not removed: %r", row.id, exc)
            await self._announce(row)

    async def _command(self, worker: str, row: RecordingRow, action: Record) -> None:
        event = RecordCommand(row.session_id, action, row.id, row.storage_path, origin=self._origin)
        await self._bus.publish_to(self._registry.worker_channel(worker), event)

    async def _announce(self, row: RecordingRow) -> None:
        """Tell the room (best effort: the row and its webhook are already committed)."""
        try:
            seq = await self._next_seq(row.session_id)
            message = recording_message(seq, row)
            event = RoomMessage(row.session_id, message, self._origin, sent_at=self._clock())
            await self._log.publish(row.session_id, seq, event, self._bus)
        except Exception as exc:
            log.warning("recording %s: room not told (%r)", row.id, exc)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:80] or "recording"
