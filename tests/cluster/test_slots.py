"""Every multi-key Redis operation of liveclass keeps its keys in one hash slot, so it runs on
a Redis Cluster: checked statically (the key lists each script and transaction gets) and by
running every one of them against the topology's 3-master cluster, which refuses a script or
transaction spanning slots (CROSSSLOT) and a script touching a key it did not declare."""

from __future__ import annotations

import uuid

import pytest
from redis.crc import key_slot

from rooms.keys import MediaKeys, RoomKeys
from rooms.media_registry import MediaRegistry
from rooms.model import RoomRole
from rooms.presence import PresenceEntry, RedisPresence, ResumeSave
from rooms.redis_client import close_redis, connect_redis, is_cluster
from rooms.room_log import RoomLog
from rooms.sequence import SequenceAllocator
from tests.cluster.topology import Topology

pytestmark = pytest.mark.xdist_group("topology")


def one_slot(keys: list[str]) -> bool:
    return len({key_slot(k.encode()) for k in keys}) == 1


def test_each_room_script_and_transaction_has_its_keys_in_one_slot() -> None:
    keys = RoomKeys(str(uuid.uuid4()))
    # Presence scripts (admit, leave, purge, refresh, ban, close, load) take presence_keys();
    # next_seq takes seq; RoomLog.append's transaction log; tally's members, hidden, seats;
    # admit's publishers and resume; forget_room deletes them all at once.
    every = [
        *keys.presence_keys(),
        keys.seq,
        keys.log,
        keys.resume,
        keys.publishers,
    ]
    assert one_slot(every)
    # Different rooms spread over the slots (a room's traffic is not all on one shard).
    slots = {key_slot(RoomKeys(str(uuid.uuid4())).room.encode()) for _ in range(50)}
    assert len(slots) > 40


def test_each_media_registry_script_has_its_keys_in_one_slot() -> None:
    keys = MediaKeys()
    sid = str(uuid.uuid4())
    every = [keys.alive, keys.load, keys.rooms, keys.subs, keys.caps]
    assert one_slot([*every, keys.assign(sid), keys.relays(sid)])


async def test_every_script_and_transaction_runs_on_the_cluster(topology: Topology) -> None:
    redis = connect_redis(topology.redis_url, cluster=True)
    assert is_cluster(redis)
    try:
        sid = str(uuid.uuid4())
        presence = RedisPresence(redis)
        await presence.load_room(sid, "live", 2, ["banned-user"])
        entries = [
            PresenceEntry(f"p{i}", f"u{i}", f"User {i}", RoomRole.GUEST, "ws", "n1", i)
            for i in range(3)
        ]
        admitted = [await presence.admit(sid, e, 10) for e in entries[:2]]
        assert [a.seats for a in admitted] == [1, 2]
        with pytest.raises(Exception, match="full"):
            await presence.admit(sid, entries[2], 10)
        assert await presence.refresh(sid, ["p0", "p1", "gone"], 10) == ["gone"]
        assert (await presence.snapshot(sid)).count == 2
        assert await presence.small_roster(sid, 10) is not None
        other = str(uuid.uuid4())  # another room, most likely on another shard
        assert await presence.counts([sid, other]) == {sid: 2, other: 0}
        assert await presence.tally(sid) == (2, 2)
        resume = ResumeSave("token", 30)
        assert (await presence.admit(sid, entries[0], 10, resume=resume)).rejoined
        assert await presence.resume_target(sid, "token") == "p0"
        resume = ResumeSave("token2", 30, replaces="token")
        assert (await presence.admit(sid, entries[0], 10, resume=resume)).rejoined
        assert await presence.resume_target(sid, "token2") == "p0"
        assert (await presence.leave(sid, "p1")).count == 1
        assert (await presence.ban(sid, "u0")).entry is not None
        assert await presence.is_banned(sid, "u0")
        assert await presence.purge(sid) == []
        assert await presence.close(sid, "ended") == []

        sequence = SequenceAllocator(redis)

        async def floor() -> int:
            return 41

        assert await sequence.next(sid, floor) == 42
        assert await sequence.current(sid) == 42
        log = RoomLog(redis)
        await log.append(sid, 42, {"type": "chat", "seq": 42})
        assert await log.since(sid, 0) == [{"type": "chat", "seq": 42}]
        assert await log.oldest(sid) == 42
        await presence.forget_room(sid)

        registry = MediaRegistry(redis, prefix=f"lc-{uuid.uuid4().hex[:8]}")
        await registry.heartbeat("w1")
        assert await registry.place(sid) == "w1"
        assert await registry.assign(sid, "p0", cap=10) == "w1"
        assert await registry.assignments(sid, ["p0"]) == {"p0": "w1"}
        assert await registry.unassign(sid, "p0") == "w1"
        await registry.release(sid)
        await registry.retire("w1")
        assert await registry.alive() == []
    finally:
        await close_redis(redis)
