"""The presence contract: every guarantee of :class:`rooms.presence.Presence`, run against
every implementation: :class:`LocalPresence` (in process, the embedded default) and
:class:`RedisPresence` on the in-process fakeredis and on a real Redis server.

Time is a :class:`tests.conftest.FakeClock` handed to ``Presence``: expiry is tested by moving
it, never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import asdict
from itertools import count

import pytest
from redis.asyncio import Redis

from rooms.errors import Banned, InvalidState, RoomFull
from rooms.model import RoomRole
from rooms.presence import LocalPresence, Presence, PresenceEntry, RedisPresence, ResumeSave
from rooms.presence.entries import MustWait, RoomNotLoaded
from rooms.sequence import SequenceAllocator
from rooms.waiting_room import Waiter
from tests.conftest import FakeClock

SID = "session-1"
TTL = 30.0


@pytest.fixture
def redis(contract_backend: tuple[str, Redis]) -> Redis:
    return contract_backend[1]


@pytest.fixture
def presence(contract_backend: tuple[str, Redis], clock: FakeClock) -> Presence:
    kind, client = contract_backend
    if kind == "local":
        return LocalPresence(client, clock=clock)
    return RedisPresence(client, clock=clock)


@pytest.fixture
async def room(presence: Presence) -> str:
    """A live room with 3 seats."""
    await presence.load_room(SID, "live", 3)
    return SID


_joined = count()


def entry(
    user: str,
    role: RoomRole = RoomRole.GUEST,
    *,
    pid: str | None = None,
    source: str = "ws",
) -> PresenceEntry:
    return PresenceEntry(
        participant_id=pid or f"p-{user}",
        user_id=user,
        name=user.title(),
        role=role,
        source=source,
        node="node-a",
        joined_at_ms=next(_joined),
    )


async def seats(presence: Presence, sid: str = SID) -> int:
    return (await presence.tally(sid))[1]


# -- Admit, leave, counts ---------------------------------------------------------------------


async def test_admit_and_leave(presence: Presence, room: str, redis: Redis) -> None:
    sam = entry("sam")
    admission = await presence.admit(room, sam, TTL)
    assert admission.entry == sam
    assert (admission.count, admission.seats, admission.capacity) == (1, 1, 3)
    assert admission.rejoined is False
    assert admission.replaced is None
    assert admission.purged == []
    assert await presence.entry(room, sam.participant_id) == sam
    assert await presence.participant_of(room, "sam") == sam.participant_id
    assert await presence.counts([room, "other-room"]) == {room: 1, "other-room": 0}

    snapshot = await presence.snapshot(room)
    assert (snapshot.status, snapshot.capacity, snapshot.entries) == ("live", 3, [sam])

    departure = await presence.leave(room, sam.participant_id)
    assert departure.entry == sam
    assert (departure.count, departure.seats) == (0, 0)
    assert await presence.entry(room, sam.participant_id) is None
    assert await presence.participant_of(room, "sam") is None
    assert await seats(presence) == 0
    # Leaving twice is harmless and says nobody left.
    again = await presence.leave(room, sam.participant_id)
    assert again.entry is None
    assert await presence.counts([]) == {}


async def test_snapshot_lists_in_join_order(presence: Presence, room: str) -> None:
    admitted = [entry(name) for name in ("zoe", "adam", "maya")]
    for e in admitted:
        await presence.admit(room, e, TTL)
    assert (await presence.snapshot(room)).entries == admitted


async def test_a_small_roster_is_the_visible_entries_up_to_a_limit(
    presence: Presence, room: str
) -> None:
    guests = [entry(name) for name in ("zoe", "adam")]
    for e in [*guests, entry("admin", RoomRole.OBSERVER)]:
        await presence.admit(room, e, TTL)
    # The hidden observer neither shows nor counts towards the limit.
    assert await presence.small_roster(room, 2) == guests
    await presence.admit(room, entry("maya"), TTL)
    assert await presence.small_roster(room, 2) is None


async def test_a_small_roster_without_a_purge_leaves_expired_entries_out(
    presence: Presence, clock: FakeClock
) -> None:
    """What a join reads after its admission purged: no script, and still no expired entry
    in the roster (the next purge tells the room they left)."""
    told: list[str] = []

    async def listener(session_id: str, entries: list[PresenceEntry]) -> None:
        told.extend(e.user_id for e in entries)

    presence.on_purged(listener)
    await presence.load_room(SID, "live", 3)
    await presence.admit(SID, entry("sam"), TTL)
    clock.advance(TTL + 1)
    sue = entry("sue")
    await presence.admit(SID, sue, TTL)
    await presence.admit(SID, entry("bob"), 0.5)
    clock.advance(1)
    assert await presence.small_roster(SID, 10, purge=False) == [sue]
    assert told == ["sam"]  # bob's expiry is left to the next purge
    assert await presence.small_roster(SID, 10) == [sue]
    assert told == ["sam", "bob"]


# -- Capacity ---------------------------------------------------------------------------------


async def test_capacity_is_exact(presence: Presence, room: str, redis: Redis) -> None:
    for name in ("a", "b", "c"):
        await presence.admit(room, entry(name), TTL)
    with pytest.raises(RoomFull) as full:
        await presence.admit(room, entry("d"), TTL)
    assert full.value.code == "room_full"
    assert full.value.details == {"capacity": 3}
    assert await seats(presence) == 3
    assert await presence.entry(room, "p-d") is None
    # A seat freed is a seat taken.
    await presence.leave(room, "p-b")
    admission = await presence.admit(room, entry("d"), TTL)
    assert admission.seats == 3
    with pytest.raises(RoomFull):
        await presence.admit(room, entry("e"), TTL)


async def test_capacity_changes_apply_to_the_next_admit(presence: Presence, room: str) -> None:
    await presence.admit(room, entry("a"), TTL)
    await presence.admit(room, entry("b"), TTL)
    await presence.load_room(room, "live", 2)
    with pytest.raises(RoomFull):
        await presence.admit(room, entry("c"), TTL)
    # Lowering capacity never evicts anybody.
    await presence.load_room(room, "live", 1)
    assert (await presence.snapshot(room)).seats == 2
    await presence.load_room(room, "live", 3)
    assert (await presence.admit(room, entry("c"), TTL)).seats == 3


async def test_host_and_observer_take_no_seat_and_are_never_refused(
    presence: Presence, redis: Redis
) -> None:
    await presence.load_room(SID, "live", 1)
    await presence.admit(SID, entry("guest"), TTL)
    with pytest.raises(RoomFull):
        await presence.admit(SID, entry("late"), TTL)

    host = await presence.admit(SID, entry("teacher", RoomRole.HOST), TTL)
    assert (host.count, host.seats) == (2, 1)
    observer = await presence.admit(SID, entry("admin", RoomRole.OBSERVER), TTL)
    # The observer is present but hidden: not counted, no seat.
    assert (observer.count, observer.seats) == (2, 1)
    assert await seats(presence) == 1
    assert await presence.counts([SID]) == {SID: 2}

    snapshot = await presence.snapshot(SID)
    assert len(snapshot.entries) == 3
    assert [e.user_id for e in snapshot.visible] == ["guest", "teacher"]
    assert (snapshot.count, snapshot.seats) == (2, 1)

    left = await presence.leave(SID, "p-admin")
    assert (left.count, left.seats) == (2, 1)
    left = await presence.leave(SID, "p-teacher")
    assert (left.count, left.seats) == (1, 1)


async def test_a_room_of_hosts_and_observers_has_no_limit(presence: Presence) -> None:
    await presence.load_room(SID, "live", 1)
    for i in range(5):
        await presence.admit(SID, entry(f"admin-{i}", RoomRole.OBSERVER), TTL)
    await presence.admit(SID, entry("teacher", RoomRole.HOST), TTL)
    assert (await presence.admit(SID, entry("guest"), TTL)).seats == 1
    assert await presence.counts([SID]) == {SID: 2}


# -- One connection per user ------------------------------------------------------------------


async def test_a_new_connection_replaces_the_older_one(
    presence: Presence, room: str, redis: Redis
) -> None:
    first = entry("sam", pid="p-1")
    await presence.admit(room, first, TTL)
    second = entry("sam", pid="p-2", source="rest")
    admission = await presence.admit(room, second, TTL)
    assert admission.replaced == first
    assert admission.rejoined is False
    assert (admission.count, admission.seats) == (1, 1)
    assert await seats(presence) == 1
    assert await presence.entry(room, "p-1") is None
    assert await presence.participant_of(room, "sam") == "p-2"
    assert (await presence.snapshot(room)).entries == [second]
    # The replaced connection leaving later does not remove the new one.
    gone = await presence.leave(room, "p-1")
    assert gone.entry is None
    assert await presence.participant_of(room, "sam") == "p-2"


async def test_a_full_room_still_lets_the_same_user_reconnect(
    presence: Presence, room: str, redis: Redis
) -> None:
    for name in ("a", "b", "c"):
        await presence.admit(room, entry(name), TTL)
    reconnect = await presence.admit(room, entry("b", pid="p-b-2"), TTL)
    assert reconnect.replaced is not None
    assert reconnect.replaced.participant_id == "p-b"
    assert reconnect.seats == 3
    assert await seats(presence) == 3
    with pytest.raises(RoomFull):
        await presence.admit(room, entry("d"), TTL)


async def test_a_host_reconnecting_as_guest_needs_a_seat(presence: Presence) -> None:
    """Replacing an entry that held no seat frees none."""
    await presence.load_room(SID, "live", 1)
    await presence.admit(SID, entry("teacher", RoomRole.HOST), TTL)
    await presence.admit(SID, entry("guest"), TTL)
    with pytest.raises(RoomFull):
        await presence.admit(SID, entry("teacher", pid="p-teacher-2"), TTL)
    # The refused admit changed nothing.
    assert await presence.participant_of(SID, "teacher") == "p-teacher"


async def test_admitting_the_same_participant_again_refreshes_it(
    presence: Presence, room: str, redis: Redis, clock: FakeClock
) -> None:
    sam = entry("sam")
    await presence.admit(room, sam, TTL)
    clock.advance(TTL - 1)
    again = await presence.admit(room, sam, TTL)
    assert again.rejoined is True
    assert again.replaced is None
    assert (again.count, again.seats) == (1, 1)
    assert await seats(presence) == 1
    # Its expiry moved: past the first deadline it is still there.
    clock.advance(TTL - 1)
    assert await presence.purge(room) == []
    assert await presence.entry(room, sam.participant_id) == sam
    clock.advance(2)
    assert await presence.purge(room) == [sam]


async def test_again_is_allowed_in_a_full_room(presence: Presence, room: str) -> None:
    for name in ("a", "b", "c"):
        await presence.admit(room, entry(name), TTL)
    assert (await presence.admit(room, entry("c"), TTL)).rejoined is True


# -- Bans -------------------------------------------------------------------------------------


async def test_ban_removes_and_refuses(presence: Presence, room: str, redis: Redis) -> None:
    sam = entry("sam")
    await presence.admit(room, sam, TTL)
    await presence.admit(room, entry("sue"), TTL)
    departure = await presence.ban(room, "sam")
    assert departure.entry == sam
    assert (departure.count, departure.seats) == (1, 1)
    assert await presence.is_banned(room, "sam")
    assert not await presence.is_banned(room, "sue")
    assert await presence.entry(room, sam.participant_id) is None
    assert await presence.participant_of(room, "sam") is None
    with pytest.raises(Banned) as banned:
        await presence.admit(room, entry("sam", pid="p-sam-2"), TTL)
    assert banned.value.code == "banned"
    assert await seats(presence) == 1


async def test_banning_an_absent_user_refuses_them_later(presence: Presence, room: str) -> None:
    departure = await presence.ban(room, "ghost")
    assert departure.entry is None
    with pytest.raises(Banned):
        await presence.admit(room, entry("ghost"), TTL)
    # Even as a host or an observer.
    with pytest.raises(Banned):
        await presence.admit(room, entry("ghost", RoomRole.OBSERVER), TTL)


# -- Room state -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["scheduled", "ended", "cancelled"])
async def test_rooms_that_are_not_live_refuse_everyone(presence: Presence, status: str) -> None:
    await presence.load_room(SID, status, 10)
    for role in RoomRole:
        with pytest.raises(InvalidState) as refused:
            await presence.admit(SID, entry("u", role), TTL)
        assert refused.value.code == "room_not_live"
        assert refused.value.details == {"status": status}
    assert (await presence.snapshot(SID)).entries == []


async def test_unknown_rooms_must_be_loaded_first(presence: Presence) -> None:
    with pytest.raises(RoomNotLoaded):
        await presence.admit("never-loaded", entry("sam"), TTL)
    snapshot = await presence.snapshot("never-loaded")
    assert (snapshot.status, snapshot.capacity, snapshot.entries) == (None, 0, [])
    await presence.load_room("never-loaded", "live", 1)
    assert (await presence.admit("never-loaded", entry("sam"), TTL)).count == 1


async def test_rooms_are_independent(presence: Presence) -> None:
    await presence.load_room("r1", "live", 1)
    await presence.load_room("r2", "live", 1)
    await presence.admit("r1", entry("sam"), TTL)
    await presence.admit("r2", entry("sam"), TTL)
    await presence.ban("r1", "sue")
    assert (await presence.admit("r2", entry("sue", RoomRole.HOST), TTL)).count == 2
    assert await presence.counts(["r1", "r2"]) == {"r1": 1, "r2": 2}


# -- Expiry and heartbeats --------------------------------------------------------------------


async def test_entries_expire_after_their_ttl(
    presence: Presence, room: str, redis: Redis, clock: FakeClock
) -> None:
    sam = entry("sam")
    await presence.admit(room, sam, TTL)
    clock.advance(TTL - 1)
    assert await presence.purge(room) == []
    clock.advance(2)
    assert await presence.purge(room) == [sam]
    assert await presence.entry(room, sam.participant_id) is None
    assert await presence.participant_of(room, "sam") is None
    assert await seats(presence) == 0
    assert (await presence.snapshot(room)).entries == []
    assert await presence.purge(room) == []


async def test_snapshot_purges_expired_entries(
    presence: Presence, room: str, clock: FakeClock
) -> None:
    told: list[tuple[str, list[PresenceEntry]]] = []

    async def listener(session_id: str, entries: list[PresenceEntry]) -> None:
        told.append((session_id, entries))

    sam = entry("sam")
    await presence.admit(room, sam, TTL)
    await presence.admit(room, entry("sue"), 3 * TTL)
    clock.advance(TTL + 1)
    # Without a listener (a media worker's presence) a read leaves expired entries out
    # but does not purge them: nobody would tell the room.
    assert [e.user_id for e in (await presence.snapshot(room)).entries] == ["sue"]
    assert await presence.counts([room]) == {room: 2}
    presence.on_purged(listener)
    assert [e.user_id for e in (await presence.snapshot(room)).entries] == ["sue"]
    assert await presence.counts([room]) == {room: 1}
    assert told == [(room, [sam])]


async def test_every_purge_is_told_to_the_listener(presence: Presence, clock: FakeClock) -> None:
    told: list[str] = []

    async def listener(session_id: str, entries: list[PresenceEntry]) -> None:
        told.extend(e.user_id for e in entries)

    presence.on_purged(listener)
    await presence.load_room(SID, "live", 1)
    await presence.admit(SID, entry("sam"), TTL)
    clock.advance(TTL + 1)
    await presence.admit(SID, entry("sue"), TTL)  # an admission purges
    assert told == ["sam"]
    clock.advance(TTL + 1)
    await presence.load_room(SID, "live", 0)
    with pytest.raises(RoomFull):  # also one that is refused
        await presence.admit(SID, entry("ann"), TTL)
    assert told == ["sam", "sue"]
    await presence.load_room(SID, "live", 3)
    await presence.admit(SID, entry("bob"), TTL)
    clock.advance(TTL + 1)
    assert await presence.small_roster(SID, 10) == []  # and a read
    assert told == ["sam", "sue", "bob"]


async def test_expired_entries_free_their_seats_for_the_next_admit(
    presence: Presence, clock: FakeClock
) -> None:
    await presence.load_room(SID, "live", 1)
    sam = entry("sam")
    await presence.admit(SID, sam, TTL)
    clock.advance(TTL + 1)
    admission = await presence.admit(SID, entry("sue"), TTL)
    assert admission.purged == [sam]
    assert admission.seats == 1


async def test_refresh_extends_and_reports_the_missing(
    presence: Presence, room: str, clock: FakeClock
) -> None:
    sam = entry("sam")
    await presence.admit(room, sam, TTL)
    clock.advance(TTL - 5)
    assert await presence.refresh(room, [sam.participant_id, "p-ghost"], TTL) == ["p-ghost"]
    clock.advance(TTL - 5)  # past the original deadline, within the refreshed one
    assert await presence.purge(room) == []
    clock.advance(10)
    assert await presence.purge(room) == [sam]
    assert await presence.refresh(room, [], TTL) == []


@pytest.mark.parametrize("contract_backend", ["fakeredis", "redis"], indirect=True)
async def test_refresh_of_a_big_room_spans_chunks(
    presence: Presence, room: str, redis: Redis
) -> None:
    # RedisPresence's script works in chunks of 1000 ids (LocalPresence has none): 2,500
    # cross two boundaries, present and missing ids interleaved so each chunk has both.
    ids = [f"p-{i}" for i in range(2500)]
    present = ids[::2]
    expiry = presence.keys(room).expiry
    await redis.zadd(expiry, dict.fromkeys(present, 1))
    earliest = presence.now_ms() + int(TTL * 1000)
    assert await presence.refresh(room, ids, TTL) == ids[1::2]
    latest = presence.now_ms() + int(TTL * 1000)
    scores = await redis.zmscore(expiry, ids)
    assert all(s is not None and earliest <= s <= latest for s in scores[::2])
    assert scores[1::2] == [None] * (len(ids) - len(present))


async def test_refresh_never_resurrects(
    presence: Presence, room: str, redis: Redis, clock: FakeClock
) -> None:
    sam = entry("sam")
    await presence.admit(room, sam, TTL)
    clock.advance(TTL + 1)
    assert await presence.purge(room) == [sam]
    assert await presence.refresh(room, [sam.participant_id], TTL) == [sam.participant_id]
    assert await presence.entry(room, sam.participant_id) is None
    # Still missing: the refresh did not give it an expiry back.
    assert await presence.refresh(room, [sam.participant_id], TTL) == [sam.participant_id]
    assert (await presence.snapshot(room)).entries == []
    # After a leave, too.
    sue = entry("sue")
    await presence.admit(room, sue, TTL)
    await presence.leave(room, sue.participant_id)
    assert await presence.refresh(room, [sue.participant_id], TTL) == [sue.participant_id]
    assert await presence.refresh(room, [sue.participant_id], TTL) == [sue.participant_id]
    assert await presence.tally(room) == (0, 0)


# -- Closing ----------------------------------------------------------------------------------


async def test_close_removes_everyone_and_keeps_the_status(
    presence: Presence, room: str, redis: Redis
) -> None:
    people = [entry("teacher", RoomRole.HOST), entry("sam"), entry("admin", RoomRole.OBSERVER)]
    for e in people:
        await presence.admit(room, e, TTL)
    await presence.ban(room, "troll")
    removed = await presence.close(room, "ended")
    assert sorted(removed, key=lambda e: e.user_id) == sorted(people, key=lambda e: e.user_id)
    snapshot = await presence.snapshot(room)
    assert (snapshot.status, snapshot.entries) == ("ended", [])
    assert await seats(presence) == 0
    assert await presence.counts([room]) == {room: 0}
    with pytest.raises(InvalidState) as refused:
        await presence.admit(room, entry("sam"), TTL)
    assert refused.value.details == {"status": "ended"}
    assert await presence.close(room, "ended") == []


async def test_forget_room_deletes_every_key(presence: Presence, room: str, redis: Redis) -> None:
    keys = presence.keys(room)
    await redis.set(keys.seq, 7)
    await redis.rpush(keys.log, b"m")
    await presence.admit(room, entry("sam"), TTL, resume=ResumeSave("t-sam", 20))
    await presence.ban(room, "troll")
    await presence.allow_publish(room, "sam", True)
    await presence.forget_room(room)
    assert await redis.exists(*keys.presence_keys(), keys.seq, keys.log, keys.resume) == 0
    assert not await presence.is_banned(room, "troll")
    assert await presence.resume_target(room, "t-sam") is None
    with pytest.raises(RoomNotLoaded):
        await presence.admit(room, entry("sam"), TTL)
    await presence.load_room(room, "live", 3)
    assert not (await presence.admit(room, entry("sam"), TTL)).publish_allowed


# -- Entries ----------------------------------------------------------------------------------


def test_entries_roundtrip_through_json() -> None:
    for role in RoomRole:
        original = entry("sam", role)
        assert PresenceEntry.from_json(original.to_json()) == original
        assert PresenceEntry.from_json(original.to_json().encode()) == original
        # Every field, under its own name (what other nodes, older ones too, read back).
        assert json.loads(original.to_json()) == {**asdict(original), "role": role.value}
    assert [entry("x", role).takes_seat for role in RoomRole] == [False, True, False]
    assert [entry("x", role).hidden for role in RoomRole] == [False, False, True]


# -- Concurrency ------------------------------------------------------------------------------


async def test_concurrent_admits_never_exceed_capacity(presence: Presence, redis: Redis) -> None:
    await presence.load_room(SID, "live", 30)
    results = await asyncio.gather(
        *(presence.admit(SID, entry(f"guest-{i}"), TTL) for i in range(100)),
        return_exceptions=True,
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(admitted) == 30
    assert all(isinstance(r, RoomFull) for r in refused), refused
    assert len(refused) == 70
    assert await seats(presence) == 30
    snapshot = await presence.snapshot(SID)
    assert snapshot.seats == snapshot.count == 30
    assert {e.participant_id for e in snapshot.entries} == {
        a.entry.participant_id for a in admitted
    }
    assert sorted(a.seats for a in admitted) == list(range(1, 31))


async def test_concurrent_reconnects_of_one_user_hold_one_seat(
    presence: Presence, redis: Redis
) -> None:
    await presence.load_room(SID, "live", 1)
    results = await asyncio.gather(
        *(presence.admit(SID, entry("sam", pid=f"p-{i}"), TTL) for i in range(20)),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert await seats(presence) == 1
    snapshot = await presence.snapshot(SID)
    assert len(snapshot.entries) == 1
    assert await presence.participant_of(SID, "sam") == snapshot.entries[0].participant_id


async def test_concurrent_admits_and_leaves_keep_the_books(
    presence: Presence, redis: Redis
) -> None:
    await presence.load_room(SID, "live", 10)
    for i in range(10):
        await presence.admit(SID, entry(f"old-{i}"), TTL)
    work: list[Awaitable[object]] = [presence.leave(SID, f"p-old-{i}") for i in range(10)]
    work += [presence.admit(SID, entry(f"new-{i}"), TTL) for i in range(25)]
    results = await asyncio.gather(*work, return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, RoomFull) for r in refused), refused
    snapshot = await presence.snapshot(SID)
    assert snapshot.seats == await seats(presence) <= 10
    assert len(snapshot.entries) == snapshot.seats
    assert not [e for e in snapshot.entries if e.user_id.startswith("old-")]
    assert 25 - len(refused) == snapshot.seats


async def test_an_admission_saves_the_resume_token_and_tells_the_publish_grant(
    presence: Presence, room: str, redis: Redis
) -> None:
    """One round trip admits, saves the resume token, forgets the old one and tells the grant."""
    ann = entry("ann")
    first = await presence.admit(room, ann, TTL, resume=ResumeSave("t1", 20))
    assert not first.publish_allowed
    assert await presence.resume_target(room, "t1") == "p-ann"
    if isinstance(presence, RedisPresence):  # LocalPresence's: tests/rooms/test_presence_local.py
        assert await redis.ttl(presence.keys(room).resume) > 3000  # at least an hour

    await presence.allow_publish(room, "ann", True)
    # A resume: the new token replaces the one the client came back with.
    again = await presence.admit(room, ann, TTL, resume=ResumeSave("t2", 20, replaces="t1"))
    assert again.rejoined
    assert again.publish_allowed
    assert await presence.resume_target(room, "t1") is None
    assert await presence.resume_target(room, "t2") == "p-ann"
    # Replacing a token by itself keeps it.
    await presence.admit(room, ann, TTL, resume=ResumeSave("t2", 20, replaces="t2"))
    assert await presence.resume_target(room, "t2") == "p-ann"
    # Without a resume token (REST), nothing is saved; the grant is still told.
    assert (await presence.admit(room, entry("bob"), TTL)).publish_allowed is False
    await presence.allow_publish(room, "ann", False)
    assert not (await presence.admit(room, ann, TTL)).publish_allowed


async def test_an_admission_on_redis_tells_the_rooms_sequence_number(
    presence: Presence, room: str, redis: Redis
) -> None:
    """The welcome's ``seq`` rides on the admission's round trip on Redis; the in-process
    presence leaves it to the in-process sequence (``None``)."""
    first = await presence.admit(room, entry("ann"), TTL)
    if not isinstance(presence, RedisPresence):
        assert first.seq is None
        return
    assert first.seq == 0  # nothing handed out yet
    sequence = SequenceAllocator(redis)

    async def floor() -> int:
        return 0

    for _ in range(3):
        await sequence.next(room, floor)
    assert (await presence.admit(room, entry("bob"), TTL)).seq == 3
    assert (await presence.admit(room, entry("ann"), TTL)).seq == 3  # again, refreshed


async def test_a_refused_admission_saves_no_resume_token(presence: Presence) -> None:
    await presence.load_room("small", "live", 1)
    await presence.admit("small", entry("ann"), TTL)
    with pytest.raises(RoomFull):
        await presence.admit("small", entry("bob"), TTL, resume=ResumeSave("t-bob", 20))
    assert await presence.resume_target("small", "t-bob") is None


async def test_presence_tells_why_a_participant_is_gone(presence: Presence, room: str) -> None:
    sam, sue, ann = entry("sam"), entry("sue"), entry("ann")
    for someone in (sam, sue, ann):
        await presence.admit(room, someone, TTL)
    sam_again = entry("sam", pid="p-sam-2")
    await presence.admit(room, sam_again, TTL)  # sam connected again: replaced
    await presence.leave(room, sue.participant_id)
    await presence.ban(room, "ann")
    gone = [sam.participant_id, sue.participant_id, ann.participant_id, "p-never"]
    assert await presence.refresh(room, gone, TTL) == gone
    assert await presence.gone(room, gone) == {
        sam.participant_id: "replaced",
        sue.participant_id: "left",
        ann.participant_id: "banned",
        "p-never": "",
    }
    assert await presence.gone(room, [sam.participant_id]) == {sam.participant_id: ""}  # once
    await presence.close(room, "ended")
    assert await presence.gone(room, [sam_again.participant_id]) == {
        sam_again.participant_id: "ended"
    }


# -- What the contract did not cover before the in-process presence -------------------------


async def test_a_student_waits_while_the_waiting_room_is_on_and_until_let_in(
    presence: Presence, room: str
) -> None:
    """The presence's waiting room (``rooms/waiting_room.py``) is read by the admission;
    waiting admits nothing."""
    lobby = presence.waiting_room
    assert (await presence.admit(room, entry("sam"), TTL, may_wait=True)).count == 1
    await lobby.set_enabled(room, True)
    with pytest.raises(MustWait):
        await presence.admit(room, entry("sue"), TTL, may_wait=True, resume=ResumeSave("t", 20))
    assert await presence.participant_of(room, "sue") is None
    assert await presence.resume_target(room, "t") is None
    assert await presence.tally(room) == (1, 1)
    # Who does not wait: a resume (no may_wait), and a student the host let in.
    assert (await presence.admit(room, entry("ann"), TTL)).count == 2
    assert await lobby.add(room, Waiter("w-sue", "sue", "Sue", "node-a", 1))
    assert [w.user_id for w in await lobby.take(room, None, let_in=True)] == ["sue"]
    assert (await presence.admit(room, entry("sue"), TTL, may_wait=True)).count == 3
    await lobby.set_enabled(room, False)
    await presence.leave(room, "p-sue")
    assert (await presence.admit(room, entry("bob"), TTL, may_wait=True)).count == 3


async def test_refusals_come_before_the_waiting_room(presence: Presence, room: str) -> None:
    await presence.waiting_room.set_enabled(room, True)
    await presence.ban(room, "troll")
    with pytest.raises(Banned):
        await presence.admit(room, entry("troll"), TTL, may_wait=True)
    with pytest.raises(RoomNotLoaded):
        await presence.admit("not-loaded", entry("sam"), TTL, may_wait=True)
    await presence.close(room, "ended")
    with pytest.raises(InvalidState):
        await presence.admit(room, entry("sam"), TTL, may_wait=True)


async def test_unban_lets_the_user_in_again(presence: Presence, room: str) -> None:
    await presence.ban(room, "sam")
    await presence.unban(room, "sam")
    assert not await presence.is_banned(room, "sam")
    assert (await presence.admit(room, entry("sam"), TTL)).count == 1
    await presence.unban("never-loaded", "sam")  # harmless
    assert not await presence.is_banned("never-loaded", "sam")


async def test_publish_permission_is_remembered_until_taken_back(
    presence: Presence, room: str
) -> None:
    await presence.allow_publish(room, "sam", True)
    assert (await presence.admit(room, entry("sam"), TTL)).publish_allowed
    await presence.allow_publish(room, "sam", False)
    assert not (await presence.admit(room, entry("sam"), TTL)).publish_allowed
    assert not (await presence.admit(room, entry("sue"), TTL)).publish_allowed


async def test_a_dropped_resume_token_resumes_nothing(presence: Presence, room: str) -> None:
    await presence.admit(room, entry("sam"), TTL, resume=ResumeSave("t-sam", 20))
    await presence.drop_resume(room, "t-sam")
    assert await presence.resume_target(room, "t-sam") is None
    await presence.drop_resume(room, "t-never")


async def test_the_epoch_holds_while_the_data_does(presence: Presence, room: str) -> None:
    first = await presence.epoch()
    await presence.admit(room, entry("sam"), TTL)
    assert first
    assert await presence.epoch() == first


async def test_counts_and_tally_include_expired_entries_until_purged(
    presence: Presence, room: str, clock: FakeClock
) -> None:
    await presence.admit(room, entry("sam"), TTL)
    await presence.admit(room, entry("admin", RoomRole.OBSERVER), TTL)
    clock.advance(TTL + 1)
    assert await presence.counts([room]) == {room: 1}
    assert await presence.tally(room) == (1, 1)
    assert await presence.small_roster(room, 10, purge=False) == []
    assert {e.user_id for e in await presence.purge(room)} == {"sam", "admin"}
    assert await presence.tally(room) == (0, 0)


async def test_a_refused_full_admission_still_tells_the_purge(
    presence: Presence, clock: FakeClock
) -> None:
    told: list[list[PresenceEntry]] = []

    async def listener(session_id: str, entries: list[PresenceEntry]) -> None:
        told.append(entries)

    presence.on_purged(listener)
    await presence.load_room("one", "live", 1)
    sam = entry("sam")
    await presence.admit("one", sam, TTL)
    await presence.admit("one", entry("host", RoomRole.HOST), TTL * 3)
    clock.advance(TTL + 1)
    await presence.admit("one", entry("sue"), TTL)  # sam expired: his seat is free
    with pytest.raises(RoomFull):
        await presence.admit("one", entry("bob"), TTL)
    assert told == [[sam]]
