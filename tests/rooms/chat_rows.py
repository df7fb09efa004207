"""Chat rows for the store's tests (group commit, its delay): one helper, not a copy each."""

from __future__ import annotations

from rooms.ids import new_id
from rooms.store.tables import ChatMessageRow
from rooms.store.types import utcnow


def chat_row(session_id: str, seq: int, row_id: str | None = None) -> ChatMessageRow:
    """Ann's message number ``seq`` in ``session_id`` (a new id unless ``row_id``)."""
    return ChatMessageRow(
        id=row_id or new_id(),
        session_id=session_id,
        seq=seq,
        user_id="u1",
        user_name="Ann",
        role="guest",
        text=f"message {seq}",
        created_at=utcnow(),
    )
