"""Recordings of a session: uploaded files, links to files stored elsewhere, and (with the
media plane) server-side recordings.

Files live under ``<data_dir>/recordings/<session id>/<recording id><ext>``; their type is
recognized from their first bytes. A session's ``recordingUrl`` is set once: by the first
recording registered for it (upload or link) and never changed afterwards.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select

from rooms.access import can_manage, room_role_for
from rooms.errors import AlreadyExists, Forbidden, InvalidState, NotFound, UnsupportedMediaType
from rooms.identity import Principal
from rooms.ids import is_uuid, new_id
from rooms.media_types import SNIFF_BYTES, download_name, sniff
from rooms.model import RecordingSource, RecordingStatus, SessionStatus
from rooms.session_lookup import is_enrolled, load_session, require_not_banned
from rooms.store import Database
from rooms.store.tables import RecordingRow, SessionRow
from rooms.store.types import utcnow
from rooms.webhooks import recording_changed

__all__ = ["RecordingService", "StoredRecording"]


@dataclass(frozen=True, slots=True)
class StoredRecording:
    recording: RecordingRow
    session: SessionRow


class RecordingService:
    def __init__(self, database: Database, root: Path) -> None:
        self._db = database
        self._root = root

    @property
    def root(self) -> Path:
        """The directory every recording file lives under."""
        return self._root

    @staticmethod
    def download_path(recording_id: str) -> str:
        """The download's path; stored as it is (the API puts the public address in front
        when it answers, so no stored link ever names an old host or port)."""
        return f"/api/v1/recordings/{recording_id}/download"

    def path_of(self, recording: RecordingRow) -> Path:
        if not recording.storage_path:
            raise NotFound("this recording has no file here", code="recording_not_stored")
        return self._root / recording.storage_path

    async def _session_for_manage(self, principal: Principal, ref: str) -> SessionRow:
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
        if not can_manage(principal, session):
            raise Forbidden(
                "only the session's instructor or a tenant admin adds recordings",
                code="not_session_owner",
            )
        if session.status not in (SessionStatus.LIVE.value, SessionStatus.ENDED.value):
            raise InvalidState(
                f"recordings belong to live or ended sessions (this one is {session.status})",
                details={"status": session.status},
            )
        return session

    async def upload(
        self,
        principal: Principal,
        ref: str,
        source: BinaryIO,
        *,
        filename: str | None,
        duration_seconds: float | None = None,
    ) -> StoredRecording:
        """Store an uploaded file (already bounded in size by the caller)."""
        session = await self._session_for_manage(principal, ref)
        head = source.read(SNIFF_BYTES)
        media = sniff(head)
        if media is None:
            raise UnsupportedMediaType(
                "recordings must be WebM, MP4, MOV, M4A, Ogg, MP3 or WAV files",
                details={"accepted": ["webm", "mp4", "mov", "m4a", "ogg", "mp3", "wav"]},
            )
        source.seek(0)
        rid = new_id()
        relative = f"{session.id}/{rid}{media.extension}"
        target = self._root / relative
        size = await asyncio.to_thread(self._copy, source, target)
        now = utcnow()
        row = RecordingRow(
            id=rid,
            session_id=session.id,
            tenant_id=session.tenant_id,
            source=RecordingSource.UPLOAD.value,
            status=RecordingStatus.READY.value,
            filename=download_name(filename, media.content_type),
            content_type=media.content_type,
            storage_path=relative,
            size_bytes=size,
            duration_seconds=duration_seconds,
            created_by=principal.user_id,
            created_at=now,
            stopped_at=now,
        )
        try:
            async with self._db.transaction() as tx:
                tx.add(row)
                fresh = await tx.get(SessionRow, session.id, with_for_update=True)
                if fresh is not None and fresh.recording_url is None:
                    fresh.recording_url = self.download_path(rid)
                    fresh.updated_at = now
                    session = fresh
                await recording_changed(tx, row)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return StoredRecording(row, session)

    @staticmethod
    def _copy(source: BinaryIO, target: Path) -> int:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        with partial.open("wb") as out:
            shutil.copyfileobj(source, out, length=1 << 20)
        partial.replace(target)
        return target.stat().st_size

    async def register_link(self, principal: Principal, ref: str, url: str) -> StoredRecording:
        """Set the session's ``recordingUrl`` to a file stored elsewhere (once only)."""
        session = await self._session_for_manage(principal, ref)
        now = utcnow()
        async with self._db.transaction() as tx:
            fresh = await tx.get(SessionRow, session.id, with_for_update=True)
            if fresh is None:
                raise NotFound("session not found", code="session_not_found")
            if fresh.recording_url is not None:
                raise AlreadyExists(
                    "this session's recordingUrl is already set and cannot change",
                    code="recording_url_set",
                    details={"recordingUrl": fresh.recording_url},
                )
            fresh.recording_url = url
            fresh.updated_at = now
            row = RecordingRow(
                id=new_id(),
                session_id=fresh.id,
                tenant_id=fresh.tenant_id,
                source=RecordingSource.LINK.value,
                status=RecordingStatus.READY.value,
                external_url=url,
                created_by=principal.user_id,
                created_at=now,
            )
            tx.add(row)
            await recording_changed(tx, row)
        return StoredRecording(row, fresh)

    async def _require_viewer(self, principal: Principal, session: SessionRow) -> None:
        if can_manage(principal, session):
            return
        async with self._db.transaction() as tx:
            await require_not_banned(tx, principal, session)
            enrolled = await is_enrolled(tx, session.id, principal.user_id)
        if room_role_for(principal, session, enrolled=enrolled) is None:
            raise Forbidden(
                "this session's recordings are for enrolled users only", code="not_enrolled"
            )

    async def for_session(
        self, principal: Principal, ref: str
    ) -> tuple[SessionRow, list[RecordingRow]]:
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            rows = list(
                (
                    await tx.execute(
                        select(RecordingRow)
                        .where(RecordingRow.session_id == session.id)
                        .order_by(RecordingRow.created_at, RecordingRow.id)
                    )
                ).scalars()
            )
        await self._require_viewer(principal, session)
        return session, rows

    async def get(self, principal: Principal, recording_id: str) -> StoredRecording:
        found = await self.find(recording_id)
        if found is None or found.recording.tenant_id != principal.tenant:
            raise NotFound("recording not found", code="recording_not_found")
        await self._require_viewer(principal, found.session)
        return found

    async def find(self, recording_id: str) -> StoredRecording | None:
        """A recording by id regardless of tenant (for signed links, already authorized)."""
        if not is_uuid(recording_id):
            return None
        async with self._db.transaction() as tx:
            row = await tx.get(RecordingRow, recording_id)
            if row is None:
                return None
            session = await tx.get(SessionRow, row.session_id)
        if session is None:
            return None
        return StoredRecording(row, session)

    async def latest(self, session_ids: list[str]) -> dict[str, RecordingRow]:
        """The most recent recording of each session that has one (no access check: callers
        show only its id to those who may read the session)."""
        if not session_ids:
            return {}
        async with self._db.transaction() as tx:
            rows = (
                await tx.execute(
                    select(RecordingRow)
                    .where(RecordingRow.session_id.in_(session_ids))
                    .order_by(RecordingRow.created_at, RecordingRow.id)
                )
            ).scalars()
            return {row.session_id: row for row in rows}

    async def delete(self, principal: Principal, recording_id: str) -> StoredRecording:
        """The session's instructor or a tenant admin deletes a recording and its file (409
        ``recording_in_progress`` while a server recording runs). A session whose
        ``recordingUrl`` named it has none afterwards (the next recording sets it)."""
        found = await self.get(principal, recording_id)
        if not can_manage(principal, found.session):
            raise Forbidden(
                "only the session's instructor or a tenant admin deletes recordings",
                code="not_session_owner",
            )
        busy = (RecordingStatus.RECORDING.value, RecordingStatus.PROCESSING.value)
        async with self._db.transaction() as tx:
            row = await tx.get(RecordingRow, recording_id, with_for_update=True)
            if row is None:
                raise NotFound("recording not found", code="recording_not_found")
            if row.status in busy:
                raise InvalidState(
                    "stop the recording before deleting it",
                    code="recording_in_progress",
                    details={"status": row.status},
                )
            session = await tx.get(SessionRow, row.session_id, with_for_update=True)
            if session is not None and session.recording_url in (
                self.download_path(row.id),
                row.external_url,
            ):
                session.recording_url = None
                session.updated_at = utcnow()
            await tx.delete(row)
        if row.storage_path:
            await asyncio.to_thread((self._root / row.storage_path).unlink, True)
        return StoredRecording(row, found.session)

    async def remove_session_files(self, session_id: str) -> None:
        """Delete a deleted session's recording files."""
        await asyncio.to_thread(shutil.rmtree, self._root / session_id, True)
