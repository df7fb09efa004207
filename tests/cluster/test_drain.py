"""Issue 8, acceptance 3: draining a node (SIGTERM, a rolling restart's step) during a
100-client class. Its clients are told 1001 and resume through the balancer on the other
nodes; chat goes on meanwhile, and every acked message reaches every client; nobody is seen
leaving, and the counts end right."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rooms.presence import RedisPresence
from rooms.redis_client import close_redis, connect_redis
from tests.cluster.clients import Member, live_session, room_token
from tests.cluster.topology import Topology
from tests.conftest import bearer

pytestmark = pytest.mark.xdist_group("topology")

STUDENTS = 100
TALKERS = 12
MESSAGES_EACH = 6
DRAINED = 2


async def holders(cluster: Topology, sid: str) -> dict[str, str]:
    """participant id -> the node holding it, from the cluster."""
    redis = connect_redis(cluster.redis_url, cluster=True)
    try:
        snapshot = await RedisPresence(redis).snapshot(sid)
    finally:
        await close_redis(redis)
    return {e.participant_id: e.node for e in snapshot.entries}


async def test_draining_a_node_during_a_100_client_class_loses_no_chat(
    cluster: Topology,
) -> None:
    teacher_who = bearer("teacher-1", "instructor")
    async with httpx.AsyncClient(timeout=60) as http:
        sid = await live_session(http, cluster.lb, teacher_who, capacity=STUDENTS)
        teacher = Member("teacher", await room_token(http, cluster.lb, sid, teacher_who), "")
        tokens = await asyncio.gather(
            *(room_token(http, cluster.lb, sid, bearer(f"student-{i}")) for i in range(STUDENTS))
        )
    students = [Member(f"s{i}", t, cluster.lb_ws) for i, t in enumerate(tokens)]
    everyone = [teacher, *students]
    try:
        await teacher.join(cluster.node_ws(1))  # the teacher's node stays up
        await asyncio.gather(*(s.join() for s in students))  # least_conn: over all 3 nodes
        await teacher.until(lambda m: m.count == STUDENTS + 1)
        placed = await holders(cluster, sid)
        pid_of = {s.name: s.welcomes[0]["participant"]["id"] for s in students}
        on_drained = [s for s in students if placed[pid_of[s.name]] == f"node-{DRAINED}"]
        assert len(on_drained) >= 10, placed
        # Half the talkers sit on the node that goes away.
        others = [s for s in students if s not in on_drained]
        talkers = on_drained[: TALKERS // 2] + others[: TALKERS // 2]

        # Every count the teacher sees from now on: a drain must not show anyone leaving.
        seen_before = len(teacher.counts)
        acked: list[str] = []
        talking = asyncio.Event()

        async def talk(member: Member) -> None:
            for n in range(MESSAGES_EACH):
                sent = await member.chat(f"{member.name} says {n}")
                if sent is not None:
                    acked.append(sent)
                if len(acked) >= TALKERS:
                    talking.set()
                # Pacing, not a wait: the chat goes on across the drain, within the chat rate
                # limit (2/s, burst 8); nothing to wait for here.
                await asyncio.sleep(0.3)

        chatter = asyncio.gather(*(talk(t) for t in talkers))
        async with asyncio.timeout(60):
            await talking.wait()
        await asyncio.to_thread(cluster.stop_node, DRAINED)
        async with asyncio.timeout(120):
            await chatter

        # Everyone on the drained node was told 1001 and resumed elsewhere.
        for s in on_drained:
            await s.until(lambda m: len(m.welcomes) == 2, within=60)
            assert s.closes == [1001], s.name
            assert s.welcomes[1]["resumed"] is True
            assert s.welcomes[1]["participant"]["id"] == pid_of[s.name]
        assert all(s.closes == [] for s in others)

        # A last message after all the others: once everyone has it, nothing more is coming.
        final = await teacher.chat("that's all")
        assert final is not None
        await asyncio.gather(*(m.until(lambda m: m.chats[final] > 0, 60) for m in everyone))
        assert len(acked) >= TALKERS * MESSAGES_EACH // 2
        for m in everyone:
            missing = [i for i in acked if m.chats[i] == 0]
            assert missing == [], f"{m.name} misses {len(missing)} acked messages"
            assert m.failure is None
            assert not m.closed_for_good

        # Counts: all 101 still there, none on the drained node, and nobody seen leaving.
        counts = teacher.counts[seen_before:]
        assert counts == [] or min(counts) == STUDENTS + 1, sorted(set(counts))
        after = await holders(cluster, sid)
        assert len(after) == STUDENTS + 1
        assert f"node-{DRAINED}" not in set(after.values())
        async with httpx.AsyncClient(timeout=60) as http:
            room = await http.get(
                f"{cluster.lb}/api/v1/sessions/{sid}/participants", headers=teacher_who
            )
        assert room.json()["activeCount"] == STUDENTS + 1
        print(f"drain: {len(on_drained)} clients resumed elsewhere, {len(acked)} chats acked")
    finally:
        await asyncio.gather(*(m.close() for m in everyone), return_exceptions=True)
