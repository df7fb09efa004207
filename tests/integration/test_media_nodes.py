"""The media plane as deployed: two ``liveclass serve`` nodes and two ``liveclass media``
worker processes on one real Redis and PostgreSQL.

The teacher publishes through node A, a student on node B receives: every signal crosses the
bus (node A → the room's worker → node B). Then the room's worker is killed with SIGKILL: the
nodes notice its heartbeat is gone, move the room to the other worker and tell the clients to
restart; the teacher publishes again and the student receives again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rooms.media_registry import MediaRegistry
from rooms.redis_client import close_redis, connect_redis
from tests.cluster.clients import room_token
from tests.conftest import bearer
from tests.integration.cluster import (
    Node,
    deployment_env,
    logs_of,
    media_worker_id,
    start_media,
    start_node,
)
from tests.integration.test_two_nodes import live_session
from tests.media.hub_peers import HubPeer, room_clients


@pytest.fixture
async def deployment(
    postgres_ready: str, redis_empty: str, tmp_path: Path
) -> AsyncIterator[tuple[Node, Node, dict[str, Node]]]:
    env = {
        **deployment_env(postgres_ready, redis_empty),
        "LIVECLASS_SWEEP_INTERVAL_SECONDS": "1",
        "LIVECLASS_MEDIA_HOST_ADDRESSES": json.dumps(["127.0.0.1"]),
        "LIVECLASS_MEDIA_HEARTBEAT_SECONDS": "1",
        "LIVECLASS_MEDIA_TTL_SECONDS": "3",
    }
    async with (
        start_node("node-a", env, tmp_path / "a") as a,
        start_node("node-b", env, tmp_path / "b") as b,
        start_media(media_worker_id("media-1"), env, tmp_path / "m1") as m1,
        start_media(media_worker_id("media-2"), env, tmp_path / "m2") as m2,
    ):
        yield a, b, {m1.name: m1, m2.name: m2}


async def test_media_crosses_nodes_and_survives_a_killed_worker(
    deployment: tuple[Node, Node, dict[str, Node]], redis_empty: str
) -> None:
    a, b, workers = deployment
    teacher_who = bearer("teacher-1", "instructor")
    async with httpx.AsyncClient(timeout=30) as http:
        sid = await live_session(http, a, capacity=10)
        teacher_token = await room_token(http, a.http, sid, teacher_who)
        student_token = await room_token(http, b.http, sid, bearer("student-1"))
    async with room_clients(f"{a.ws}?token={teacher_token}", f"{b.ws}?token={student_token}") as (
        one,
        two,
    ):
        teacher, student = HubPeer(one), HubPeer(two)
        try:
            await asyncio.wait_for(teacher.publish(), 90)
            await student.until(lambda: student.video_frames >= 10, 90)
            assert student.audio_frames > 0

            redis = connect_redis(redis_empty)
            try:
                doomed = await MediaRegistry(redis).worker_of(sid)
                assert doomed in workers
                workers[doomed].kill()
                try:
                    await student.until(lambda: student.restarts == 1, 90)
                    await teacher.until(lambda: teacher.restarts == 1, 90)
                    frames = student.video_frames
                    await student.until(lambda: student.video_frames >= frames + 10, 90)
                except TimeoutError as exc:
                    state = {
                        who: (p.restarts, p.offers_answered, p.video_frames, p.errors, p.failures)
                        for who, p in (("teacher", teacher), ("student", student))
                    }
                    raise AssertionError(f"{state}\n{logs_of(a, b, *workers.values())}") from exc
                survivor = await MediaRegistry(redis).worker_of(sid)
            finally:
                await close_redis(redis)
            assert survivor in workers
            assert survivor != doomed
        finally:
            await teacher.close()
            await student.close()
