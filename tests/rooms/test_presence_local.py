"""What only the in-process presence (:class:`LocalPresence`) has to show beyond the contract
(``tests/rooms/test_presence.py``): that the embedded default uses it, and that its expiring
hashes expire as Redis's keys do."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from api.services import Services
from rooms.chat_moderation import ChatGate
from rooms.local_room_state import LocalChatGate, LocalRoomLog, LocalRoomState
from rooms.model import RoomRole
from rooms.presence import LocalPresence, PresenceEntry, RedisPresence, ResumeSave
from rooms.presence import local as local_module
from rooms.redis_client import close_redis, connect_redis
from tests.conftest import FakeClock

SID = "session-1"
TTL = 30.0


class Monotonic:
    """A monotonic clock the test moves (what Redis's TTLs run on)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(local_module, "monotonic", clock)
    return clock


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = connect_redis(None)
    yield client
    await close_redis(client)


@pytest.fixture
async def presence(redis: Redis, clock: FakeClock) -> LocalPresence:
    presence = LocalPresence(redis, clock=clock)
    await presence.load_room(SID, "live", 3)
    return presence


def entry(user: str) -> PresenceEntry:
    return PresenceEntry(f"p-{user}", user, user.title(), RoomRole.GUEST, "ws", "node-a", 1)


def test_the_embedded_default_keeps_presence_in_process(services: Services, backend: str) -> None:
    expected = LocalPresence if backend == "embedded" else RedisPresence
    assert type(services.presence) is expected
    gate = LocalChatGate if backend == "embedded" else ChatGate
    assert type(services.chat.gate) is gate


async def test_forget_room_drops_the_in_process_sequence_and_log(redis: Redis) -> None:
    state = LocalRoomState()
    presence = LocalPresence(redis, room_state=state)
    log = LocalRoomLog(redis, state)
    state.seq[SID], state.seq["other"] = 3, 9
    await log.append(SID, 3, {"seq": 3})
    await presence.forget_room(SID)
    assert state.seq == {"other": 9}
    assert await log.since(SID, 0) == []


async def test_resume_tokens_expire_with_their_hash_at_least_an_hour_after_the_last_save(
    presence: LocalPresence, monotonic: Monotonic
) -> None:
    await presence.admit(SID, entry("ann"), TTL, resume=ResumeSave("t-ann", 20))
    monotonic.now += 3000
    await presence.admit(SID, entry("bob"), TTL, resume=ResumeSave("t-bob", 20))
    monotonic.now += 3000  # 6000 s after ann's save, 3000 after the hash's last EXPIRE
    assert await presence.resume_target(SID, "t-ann") == "p-ann"
    monotonic.now += 601
    assert await presence.resume_target(SID, "t-ann") is None
    assert await presence.resume_target(SID, "t-bob") is None
    # A longer grace period than an hour is kept.
    await presence.admit(SID, entry("cat"), TTL, resume=ResumeSave("t-cat", 7200))
    monotonic.now += 7000
    assert await presence.resume_target(SID, "t-cat") == "p-cat"


async def test_why_a_participant_left_is_kept_ten_minutes_after_the_last_departure(
    presence: LocalPresence, monotonic: Monotonic
) -> None:
    for user in ("ann", "bob"):
        await presence.admit(SID, entry(user), TTL)
    await presence.leave(SID, "p-ann")
    monotonic.now += 500
    await presence.leave(SID, "p-bob")
    monotonic.now += 500
    assert await presence.gone(SID, ["p-ann"]) == {"p-ann": "left"}
    monotonic.now += 101
    assert await presence.gone(SID, ["p-bob"]) == {"p-bob": ""}


async def test_forget_room_deletes_the_sequence_and_log_in_redis(
    presence: LocalPresence, redis: Redis
) -> None:
    keys = presence.keys(SID)
    await redis.set(keys.seq, 3)
    await redis.rpush(keys.log, b"m")
    await redis.set(presence.keys("other").seq, 9)
    await presence.forget_room(SID)
    assert await redis.exists(keys.seq, keys.log) == 0
    assert await redis.exists(presence.keys("other").seq) == 1


async def test_reads_of_unknown_rooms_keep_nothing(presence: LocalPresence) -> None:
    await presence.counts(["a", "b"])
    await presence.snapshot("c")
    await presence.leave("d", "p-x")
    await presence.refresh("e", ["p-x"], TTL)
    await presence.is_banned("f", "x")
    assert set(presence._rooms) == {SID}
