"""How an admitted chat message reaches the room before it is stored (``rooms/chat.py``): its
room message, logged in the room's log and published on the bus, and delivered on this node at
once. The hub builds two (``EffectRunner.chat_delivery``: WebSocket, REST); on Redis the
admission script logs and publishes it itself (``rooms/chat_admission.py``), and
:meth:`published` is all that is left to do here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rooms.bus_events import RoomMessage
from rooms.bus_port import Bus
from rooms.ids import new_id
from rooms.model import RoomRole
from rooms.room_log import RoomLog
from rooms.store.tables import ChatMessageRow
from rooms.store.types import utcnow

__all__ = ["ChatDraft", "RoomDelivery", "Sender"]

log = logging.getLogger("liveclass.chat")


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends: ``participant_id`` is their connection's in the room (None over REST: the
    room then knows them by their user id)."""

    user_id: str
    name: str
    role: RoomRole
    participant_id: str | None = None


@dataclass(slots=True)
class ChatDraft:
    """A chat message on its way to the room, before it is stored: the fields of its
    :class:`ChatMessageRow` (:meth:`row`), in a plain object (an ORM row's instrumented
    construction costs ~40 µs, which the room need not wait for)."""

    id: str
    session_id: str
    seq: int
    user_id: str
    user_name: str
    role: str
    text: str
    created_at: datetime
    #: How the room knows the sender (their participant id, else their user id); not stored.
    sender_id: str

    @classmethod
    def of(cls, session_id: str, sender: Sender, text: str, seq: int) -> ChatDraft:
        """A new message from ``sender``, numbered ``seq``, stamped now."""
        return cls(
            new_id(),
            session_id,
            seq,
            sender.user_id,
            sender.name,
            sender.role.value,
            text,
            utcnow(),
            sender.participant_id or sender.user_id,
        )

    def row(self) -> ChatMessageRow:
        """The row to store."""
        return ChatMessageRow(
            id=self.id,
            session_id=self.session_id,
            seq=self.seq,
            user_id=self.user_id,
            user_name=self.user_name,
            role=self.role,
            text=self.text,
            created_at=self.created_at,
        )


@dataclass(frozen=True, slots=True)
class RoomDelivery:
    """How an admitted message reaches the room: ``event(row)``, its room message, logged in
    ``log`` and published on ``bus`` (the hub's :meth:`~signaling.hub.Hub.chat_delivery`).
    ``store_unsent``: a message that cannot be published is stored all the same (every node
    catches up from the store once its bus is back); otherwise it is refused unstored, so its
    sender may send it again. ``here``: given the published event at once, to deliver it to
    this node's own part of the room without waiting for the bus to bring it back (the echo
    is then a repeat, which the node drops)."""

    log: RoomLog
    bus: Bus
    event: Callable[[ChatDraft], RoomMessage]
    store_unsent: bool = False
    here: Callable[[RoomMessage], None] | None = None

    def published(self, event: RoomMessage) -> None:
        """``event`` is on the bus: this node delivers it now (see ``here``). Its failure is
        logged, not raised: the message is the room's already, and the echo still comes."""
        if self.here is None:
            return
        try:
            self.here(event)
        except Exception:
            log.exception("chat %s: delivering it on this node failed", event.message.get("seq"))

    async def deliver(self, row: ChatDraft) -> bool:
        """Log and publish ``row``: whether the room has it (False: it may be stored all the
        same, and every node catches up from the store once its bus is back)."""
        event = self.event(row)
        try:
            await self.log.publish(row.session_id, row.seq, event, self.bus)
        except Exception as exc:
            if not self.store_unsent:
                raise
            log.warning("chat %s not published yet, storing it: %r", row.seq, exc)
            return False
        self.published(event)
        return True
