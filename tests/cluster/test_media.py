"""The media plane through the production topology: a teacher publishes and a student
subscribes, both through nginx (so on whichever nodes it picks); their signals cross the
bus on the Redis Cluster to the room's `liveclass media` worker, and the student decodes the
teacher's video and audio."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rooms.media_registry import MediaRegistry
from rooms.redis_client import close_redis, connect_redis
from tests.cluster.clients import live_session, room_token
from tests.cluster.topology import Topology
from tests.conftest import bearer
from tests.media.hub_peers import HubPeer, room_clients

pytestmark = pytest.mark.xdist_group("topology")


async def test_a_publisher_and_a_subscriber_reach_a_worker_through_the_balancer(
    cluster: Topology,
) -> None:
    teacher_who = bearer("teacher-1", "instructor")
    async with httpx.AsyncClient(timeout=60) as http:
        sid = await live_session(http, cluster.lb, teacher_who, capacity=10)
        teacher_token = await room_token(http, cluster.lb, sid, teacher_who)
        student_token = await room_token(http, cluster.lb, sid, bearer("student-1"))
    async with room_clients(
        f"{cluster.lb_ws}?token={teacher_token}", f"{cluster.lb_ws}?token={student_token}"
    ) as (one, two):
        teacher, student = HubPeer(one), HubPeer(two)
        step = "publishing"
        try:
            async with asyncio.timeout(60):
                await teacher.publish()
            step = "waiting for video"
            await student.until(lambda: student.video_frames >= 10, 60)
            step = "waiting for audio"
            await student.until(lambda: student.audio_frames > 0, 30)
        except TimeoutError:
            pytest.fail(_what_happened(cluster, step, teacher, student))
        finally:
            await teacher.close()
            await student.close()
    redis = connect_redis(cluster.redis_url, cluster=True)
    try:
        worker = await MediaRegistry(redis).worker_of(sid)
    finally:
        await close_redis(redis)
    assert worker in {"media-1", "media-2"}


def _what_happened(cluster: Topology, step: str, teacher: HubPeer, student: HubPeer) -> str:
    """A timeout's story: what each peer heard and the workers' and nodes' logs."""
    lines = [f"timed out {step}"]
    for name, peer in (("teacher", teacher), ("student", student)):
        lines.append(
            f"{name}: errors {peer.errors}, failures {peer.failures}, restarts "
            f"{peer.restart_reasons}, offers answered {peer.offers_answered}, "
            f"frames {peer.video_frames} video / {peer.audio_frames} audio"
        )
    for log in ("media-1", "media-2", "node-1", "node-2", "node-3"):
        lines += [f"--- {log} ---", *cluster.log_of(log).splitlines()[-40:]]
    return "\n".join(lines)
