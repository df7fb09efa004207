"""Session chat: validated, admitted, delivered, then stored; acknowledged once durable;
paged by sequence number.

Every message gets the room's next ``seq`` (shared with the other reliable room messages) from
the admission step (the host's switch, the sender's rate limit, the number), goes to the room
(the room's log in Redis or in process, then the bus: what a reconnecting client catches up
from; on Redis, in the admission's own script, so one round trip from frame to fan-out), and
is then committed to the store; only once the commit is durable (on PostgreSQL,
once a WAL flush covers it: ``rooms/store/pg_writer.py``) is it acknowledged. The room does
not wait for the database: a message reaches everyone one commit sooner (the tail at 10k
deliveries/s, docs/performance.md). The price: a message the store then fails to keep was
seen by the room (and stays in the room's log) but is missing from the history; its sender is
told so (``unavailable`` with ``details.delivered``), never acknowledged. While the database
is failing (its last answer was that it could not be reached: ``Database.failing``), a message
is stored first instead, so that what it cannot keep is refused and seen by nobody. History
(and so a moderator's delete) sees a message once its commit is done: on PostgreSQL about
10 ms after the room (its writer's commit delay, ``rooms/store/group_commit.py``), on SQLite
at once.

Messages posted at the same time are committed together (``rooms/store/group_commit.py``):
each still waits for its own commit, but a busy room costs one transaction per group, not one
per message, and one flush covers every message committed before it.

History pages by ``seq``: ``after`` for catching up (oldest first), ``before`` for scrolling
back; without either, the latest ``limit`` messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select

from rooms.access import can_manage, room_role_for
from rooms.bans import Bans
from rooms.chat_admission import SEQ_PLACEHOLDER, ChatAdmission, chat_off
from rooms.chat_delivery import ChatDraft, RoomDelivery, Sender
from rooms.chat_moderation import StudentChatSwitch
from rooms.errors import (
    Banned,
    Forbidden,
    InvalidState,
    NotFound,
    Unavailable,
    ValidationFailed,
)
from rooms.identity import Principal
from rooms.ids import is_uuid
from rooms.model import RoomRole, SessionStatus
from rooms.presence import Presence
from rooms.ratelimit import ChatRateLimit
from rooms.sequence import RoomSequence
from rooms.session_lookup import is_enrolled, load_session
from rooms.store import Database
from rooms.store.durability import Durability
from rooms.store.group_commit import GroupCommit
from rooms.store.tables import ChatMessageRow, SessionRow

__all__ = ["ChatPage", "ChatService", "Sender"]

log = logging.getLogger("liveclass.chat")


@dataclass(frozen=True, slots=True)
class ChatPage:
    messages: list[ChatMessageRow]
    has_more: bool


class ChatService:
    def __init__(
        self,
        database: Database,
        presence: Presence,
        sequence: RoomSequence,
        *,
        max_chars: int = 2000,
        limiter: ChatRateLimit | None = None,
        gate: StudentChatSwitch | None = None,
        admission: ChatAdmission | None = None,
    ) -> None:
        self._db = database
        #: Whether students may chat now (the host's switch); None: always.
        self.gate = gate
        self._limiter = limiter
        #: The gate, limit and sequence in one step (Redis: one script); None: in turn.
        self._admission = admission
        self._presence = presence
        self._sequence = sequence
        self._bans = Bans(database, presence)
        self._max_chars = max_chars
        self._writes = GroupCommit(database, core=True)

    @property
    def max_chars(self) -> int:
        return self._max_chars

    def clean(self, text: str) -> str:
        """The text as stored, or :class:`ValidationFailed` (empty or too long)."""
        text = text.strip()
        if not text:
            raise ValidationFailed("a chat message needs text", code="empty_message")
        if "\x00" in text:
            raise ValidationFailed("chat text may not contain NUL characters", code="invalid_text")
        if len(text) > self._max_chars:
            raise ValidationFailed(
                f"a chat message has at most {self._max_chars} characters",
                code="message_too_long",
                details={"maxChars": self._max_chars},
            )
        return text

    async def _floor(self, session_id: str) -> int:
        async with self._db.transaction() as tx:
            value = await tx.scalar(
                select(func.max(ChatMessageRow.seq)).where(ChatMessageRow.session_id == session_id)
            )
        return int(value or 0)

    async def next_seq(self, session_id: str) -> int:
        return await self._sequence.next(session_id, lambda: self._floor(session_id))

    async def reseed(self, session_id: str, at_least: int) -> None:
        """After Redis lost the room's counter: numbers go on above both the store's highest
        and ``at_least`` (the highest this node delivered), never repeating one."""
        await self._sequence.raise_to(session_id, max(at_least, await self._floor(session_id)))

    async def since(self, session_id: str, seq: int, *, limit: int = 1000) -> list[ChatMessageRow]:
        """Stored messages after ``seq``, oldest first (a node catching up after a bus loss)."""
        async with self._db.transaction() as tx:
            rows = await tx.execute(
                select(ChatMessageRow)
                .where(ChatMessageRow.session_id == session_id, ChatMessageRow.seq > seq)
                .order_by(ChatMessageRow.seq)
                .limit(limit)
            )
            return list(rows.scalars())

    async def counts_by_user(self, session_id: str) -> dict[str, tuple[str, int]]:
        """Stored messages per user of the session: user id → (their last name, count)."""
        async with self._db.transaction() as tx:
            rows = await tx.execute(
                select(
                    ChatMessageRow.user_id,
                    func.max(ChatMessageRow.user_name),
                    func.count(),
                )
                .where(ChatMessageRow.session_id == session_id)
                .group_by(ChatMessageRow.user_id)
            )
            return {str(uid): (str(name), int(count)) for uid, name, count in rows.all()}

    async def current_seq(self, session_id: str) -> int:
        """The room's last sequence number handed out (0 before the first)."""
        return await self._sequence.current(session_id)

    async def store(
        self, session_id: str, sender: Sender, text: str, *, room: RoomDelivery | None = None
    ) -> ChatMessageRow:
        """Persist one message from an already-authorized sender (the hub's path). Both
        paths (REST and WebSocket) come here, so the sender's chat rate limit is one:
        :class:`RateLimited` (with ``retryAfter``) past it.

        Once admitted, the message reaches the ``room`` (on Redis, in the admission's own
        step); then the row is committed (while the database is failing: committed first,
        then delivered), and this returns once it is durable, so acknowledge it only then. A
        message that cannot reach the room is stored only when ``room.store_unsent``. A row
        that cannot be stored or confirmed durable raises the database's error, or, when the
        room has it, :class:`Unavailable` with ``details.delivered`` (and its ``id`` and
        ``seq``): the sender must not send it again."""
        text = self.clean(text)
        if room is None:
            row = (await self._admitted(session_id, sender, text)).row()
            await self._durable(await self._commit(row))
        elif self._db.failing:
            # The database has been failing: stored first, so that what it cannot keep is
            # refused and seen by nobody (the README's behaviour during outages).
            draft = await self._admitted(session_id, sender, text)
            row = draft.row()
            durability = await self._commit(row)
            if await room.deliver(draft):
                await self._kept(row, durability)
            else:
                await self._durable(durability)
        else:
            draft, delivered = await self._admitted_and_delivered(session_id, sender, text, room)
            # The ORM row only now: its instrumented construction is no work for the room.
            row = draft.row()
            if delivered:
                await self._kept(row)
            else:
                await self._durable(await self._commit(row))
        return row

    async def _admitted(self, session_id: str, sender: Sender, text: str) -> ChatDraft:
        """An admitted message (see :meth:`_admit`)."""
        return ChatDraft.of(session_id, sender, text, await self._admit(session_id, sender))

    async def _admit(self, session_id: str, sender: Sender) -> int:
        """The number of a message ``sender`` may send now: the host's switch, the rate
        limit, then the number."""
        guest = sender.role is RoomRole.GUEST
        if self._admission is not None:
            return await self._admission.admit(
                session_id, sender.user_id, guest=guest, floor=lambda: self._floor(session_id)
            )
        if self.gate is not None and guest and not await self.gate.students_may_chat(session_id):
            raise chat_off()
        if self._limiter is not None:
            await self._limiter.take(session_id, sender.user_id)
        return await self.next_seq(session_id)

    async def _admitted_and_delivered(
        self, session_id: str, sender: Sender, text: str, room: RoomDelivery
    ) -> tuple[ChatDraft, bool]:
        """The admitted message, and whether the room has it. On Redis, admitted and
        delivered in one script: one round trip from the frame to the fan-out."""
        draft = ChatDraft.of(session_id, sender, text, SEQ_PLACEHOLDER)
        if self._admission is not None:
            event = room.event(draft)
            scripted = room.log.scripted(session_id, event, room.bus)
            if scripted is not None:
                draft.seq = await self._admission.admit_and_append(
                    session_id,
                    sender.user_id,
                    guest=sender.role is RoomRole.GUEST,
                    floor=lambda: self._floor(session_id),
                    append=scripted,
                )
                event.message["seq"] = draft.seq
                room.published(event)
                return draft, True
        draft.seq = await self._admit(session_id, sender)
        return draft, await room.deliver(draft)

    async def _kept(self, row: ChatMessageRow, durability: Durability | None = None) -> None:
        """Commit (unless ``durability`` says it is done) and wait for durable a row the room
        has already: a failure says so (``details.delivered``)."""
        try:
            await self._durable(durability or await self._commit(row))
        except Exception as exc:
            log.warning("chat %s reached %s but was not stored: %r", row.seq, row.session_id, exc)
            raise Unavailable(
                "the message reached the room but could not be confirmed as saved; "
                "it may be missing from the history",
                details={"delivered": True, "id": row.id, "seq": row.seq},
            ) from exc

    async def _commit(self, row: ChatMessageRow) -> Durability:
        try:
            return await self._writes.add(row)
        except Exception as exc:
            self._db.observe(exc)
            raise

    async def _durable(self, durability: Durability) -> None:
        try:
            await durability.durable()
        except Exception as exc:
            self._db.observe(exc)
            raise
        self._db.failing = False

    async def _sender(self, principal: Principal, session: SessionRow) -> Sender:
        async with self._db.transaction() as tx:
            enrolled = await is_enrolled(tx, session.id, principal.user_id)
        role = room_role_for(principal, session, enrolled=enrolled)
        if role is None:
            raise Forbidden("this session's chat is for enrolled users only", code="not_enrolled")
        return Sender(principal.user_id, principal.name, role)

    async def post(
        self, principal: Principal, ref: str, text: str, *, room: RoomDelivery | None = None
    ) -> ChatMessageRow:
        """Post as ``principal`` over REST: the session must be live and the caller allowed
        in its room (and not kicked). ``room`` as in :meth:`store`."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
        sender = await self._sender(principal, session)
        if not sender.role.may_chat:
            raise Forbidden(
                "observers watch the room hidden and do not chat", code="observer_cannot_chat"
            )
        if session.status != SessionStatus.LIVE.value:
            raise InvalidState(
                f"chat is open while the session is live (it is {session.status})",
                code="room_not_live",
                details={"status": session.status},
            )
        if await self._bans.is_banned(session.id, principal.user_id):
            raise Banned("you were removed from this session by the host")
        return await self.store(session.id, sender, text, room=room)

    async def history(
        self,
        principal: Principal,
        ref: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> ChatPage:
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
        if not can_manage(principal, session):
            await self._sender(principal, session)
        query = select(ChatMessageRow).where(ChatMessageRow.session_id == session.id)
        async with self._db.transaction() as tx:
            if after is not None:
                rows = list(
                    (
                        await tx.execute(
                            query.where(ChatMessageRow.seq > after)
                            .order_by(ChatMessageRow.seq)
                            .limit(limit + 1)
                        )
                    ).scalars()
                )
                return ChatPage(rows[:limit], has_more=len(rows) > limit)
            if before is not None:
                query = query.where(ChatMessageRow.seq < before)
            rows = list(
                (
                    await tx.execute(query.order_by(ChatMessageRow.seq.desc()).limit(limit + 1))
                ).scalars()
            )
        has_more = len(rows) > limit
        return ChatPage(list(reversed(rows[:limit])), has_more=has_more)

    async def delete(self, principal: Principal, ref: str, message_id: str) -> ChatMessageRow:
        """The session's instructor or a tenant admin removes a message from the history
        (REST readers never see it again; the REST route tells the room: ``chat-deleted``)."""
        async with self._db.transaction() as tx:
            session = await load_session(tx, principal, ref)
            if not can_manage(principal, session):
                raise Forbidden(
                    "only the session's instructor or a tenant admin deletes messages",
                    code="not_session_owner",
                )
        return await self.remove(session.id, message_id)

    async def remove(self, session_id: str, message_id: str) -> ChatMessageRow:
        """Delete a message of the session (the caller checked that the host asks):
        :class:`NotFound` (``message_not_found``) otherwise."""
        async with self._db.transaction() as tx:
            row = None
            if is_uuid(message_id):
                row = await tx.scalar(
                    select(ChatMessageRow).where(
                        ChatMessageRow.session_id == session_id, ChatMessageRow.id == message_id
                    )
                )
            if row is None:
                raise NotFound("message not found", code="message_not_found")
            await tx.delete(row)
        return row
