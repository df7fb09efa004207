"""A room bigger than one worker: its subscribers spread over two workers.

Each worker takes at most two participants. The teacher publishes to the room's origin
worker; the first two participants receive from it, the next ones from a relay worker that
receives the room's tracks from the origin (one WebRTC connection between the workers) and
forwards them on, still without decoding, under the teacher's name. A late student on the relay
still gets their first frame within a second: the keyframe request travels relay → origin →
teacher.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from api.services import Services
from media.worker import MediaWorker
from media.worker_outbox import ORIGIN_PUBLISHER, RELAY_PREFIX
from rooms.media_registry import MediaRegistry
from signaling.hub import Hub
from tests.conftest import FakeClock, People, bearer
from tests.media.hub_peers import HubPeer, crash, join, pid, teacher_and_student

pytestmark = pytest.mark.parametrize("backend", ["services"], indirect=True)

LATE_JOIN_LIMIT = 1.0


@pytest.fixture
async def hub(start_hub: Callable[[str], Awaitable[Hub]]) -> Hub:
    return await start_hub("node-a")


@pytest.fixture
async def workers(
    start_worker: Callable[..., Awaitable[MediaWorker]],
) -> tuple[MediaWorker, MediaWorker]:
    return (
        await start_worker("worker-a", max_subscribers=2),
        await start_worker("worker-b", max_subscribers=2),
    )


async def test_a_room_spreads_over_two_workers_through_a_relay(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    hub: Hub,
    workers: tuple[MediaWorker, MediaWorker],
    peers: list[HubPeer],
    services: Services,
) -> None:
    origin, relay = workers
    sid = (await new_session(start=True, maxParticipants=10))["id"]
    teacher, first = await teacher_and_student(client, hub, sid, people, peers)
    assert set(origin.rooms) == {sid}

    # two participants fill the origin; the next ones go to the relay
    spread = [HubPeer(await join(client, hub, sid, bearer(f"s{i}"))) for i in range(2)]
    peers += spread
    for peer in [first, *spread]:
        await peer.until_frames(10, 10, 90)
    registry = MediaRegistry(services.redis)
    assert await registry.relays(sid) == {relay.worker_id}
    assert [await registry.assignment(sid, pid(p.client)) for p in (teacher, first)] == [
        origin.worker_id,
        origin.worker_id,
    ]
    for peer in spread:
        assert await registry.assignment(sid, pid(peer.client)) == relay.worker_id
        # the relayed tracks keep the teacher's name
        assert sorted(t.split(":")[:2] for t in peer.track_ids) == [
            [pid(teacher.client), "audio"],
            [pid(teacher.client), "video"],
        ]

    origin_router = origin.rooms[sid].router
    relay_router = relay.rooms[sid].router
    assert set(origin_router.subscribers) == {
        pid(teacher.client),
        pid(first.client),
        RELAY_PREFIX + relay.worker_id,
    }
    assert set(relay_router.publishers) == {ORIGIN_PUBLISHER}
    assert set(relay_router.subscribers) == {pid(p.client) for p in spread}
    assert {t.publisher_id for t in relay_router.tracks} == {pid(teacher.client)}
    # forwarded, not decoded, on both workers
    for router in (origin_router, relay_router):
        for publisher in router.publishers.values():
            assert all(tap.frames > 0 and tap.decoded == 0 for tap in publisher.taps)

    # a relay participant's connection breaks: they ask the SFU to start over, and the relay
    # serves them again
    frames = spread[1].video_frames
    await spread[1].request_restart()
    await spread[1].until(lambda: spread[1].video_frames >= frames + 10, 90)
    assert await registry.assignment(sid, pid(spread[1].client)) == relay.worker_id

    # a relay participant leaves: their place is freed for the next one
    await spread[0].client.send({"type": "leave"})
    await spread[0].until(lambda: spread[0].pc.connectionState in ("closed", "failed"), 90)
    assert await registry.assignment(sid, pid(spread[0].client)) is None
    assert pid(spread[0].client) not in relay_router.subscribers

    # a late student on the relay: first frame within a second of connecting
    late = HubPeer(await join(client, hub, sid, bearer("late")))
    peers.append(late)
    await late.until(lambda: late.first_video_at is not None, 90)
    assert late.connected_at is not None
    assert late.first_video_at is not None
    first_frame = late.first_video_at - late.connected_at
    print(f"\nlate subscriber on a relay worker: first frame {first_frame * 1000:.0f} ms")
    assert first_frame < LATE_JOIN_LIMIT
    assert await registry.assignment(sid, pid(late.client)) == relay.worker_id

    # the room ends: both workers close it and every place is released
    ended = await client.post(f"/api/v1/sessions/{sid}/end", headers=people.teacher)
    assert ended.status_code == 200
    await late.until(lambda: late.pc.connectionState in ("closed", "failed"), 90)
    await first.until(lambda: first.pc.connectionState in ("closed", "failed"), 90)
    assert sid not in relay.rooms
    assert sid not in origin.rooms
    assert await registry.subscribers_of(origin.worker_id) == 0
    assert await registry.subscribers_of(relay.worker_id) == 0


async def test_participants_of_a_dead_relay_are_served_again(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    hub: Hub,
    workers: tuple[MediaWorker, MediaWorker],
    peers: list[HubPeer],
    services: Services,
    clock: FakeClock,
) -> None:
    origin, relay = workers
    sid = (await new_session(start=True, maxParticipants=10))["id"]
    teacher, first = await teacher_and_student(client, hub, sid, people, peers)
    moved = HubPeer(await join(client, hub, sid, bearer("s0")))
    peers.append(moved)
    await moved.until(lambda: moved.video_frames >= 10, 90)
    registry = MediaRegistry(services.redis, clock=clock)
    assert await registry.assignment(sid, pid(moved.client)) == relay.worker_id

    await crash(relay)
    clock.advance(11)
    await registry.heartbeat(origin.worker_id)
    await hub._heartbeat()
    await hub._sweep()

    await moved.until(lambda: moved.restarts == 1, 90)
    frames = moved.video_frames
    await moved.until(lambda: moved.video_frames >= frames + 10, 90)
    # the relay is gone and the origin is full (cap 2): it takes the overload rather than
    # drop anyone
    assert await registry.assignment(sid, pid(moved.client)) == origin.worker_id
    assert teacher.restarts == 0
    assert first.restarts == 0
