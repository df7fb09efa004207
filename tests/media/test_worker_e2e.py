"""Acceptance: signals to ``sfu`` work end to end through the bus.

Two hub nodes and one media worker share one Redis (the real one); nobody talks to anybody
directly. The teacher, on node A, publishes real aiortc video and audio; a student on node B
and a late student on node A receive it through the worker's server-initiated offers, and
decode frames. A student without the publish grant is refused by the worker.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection

from media.worker import MediaWorker
from signaling.hub import Hub
from tests.conftest import People
from tests.media.hub_peers import HubPeer, join, pid, teacher_and_student
from tests.waiting import eventually

pytestmark = pytest.mark.parametrize("backend", ["services"], indirect=True)


@pytest.fixture
async def nodes(start_hub: Callable[[str], Awaitable[Hub]]) -> tuple[Hub, Hub]:
    return await start_hub("node-a"), await start_hub("node-b")


@pytest.fixture
async def worker(start_worker: Callable[..., Awaitable[MediaWorker]]) -> MediaWorker:
    return await start_worker("worker-e2e")


async def test_publisher_on_one_node_reaches_subscribers_on_both_through_the_worker(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    nodes: tuple[Hub, Hub],
    worker: MediaWorker,
    peers: list[HubPeer],
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = HubPeer(await join(client, a, sid, people.teacher))
    student = HubPeer(await join(client, b, sid, people.student))
    peers += [teacher, student]

    answer = await teacher.publish()
    assert "a=recvonly" in answer
    assert sid in worker.rooms
    router = worker.rooms[sid].router
    assert set(router.publishers) == {pid(teacher.client)}

    # node B's student: offered by the worker over the bus, answers through node B
    await student.until(lambda: student.video_frames >= 10 and student.audio_frames >= 10, 90)
    assert sorted(t.split(":")[1] for t in student.track_ids) == ["audio", "video"]

    # a late student on node A: offered when the worker sees them join
    late = HubPeer(await join(client, a, sid, people.student2))
    peers.append(late)
    await late.until(lambda: late.first_video_at is not None, 90)
    assert late.connected_at is not None
    assert late.first_video_at is not None
    print(
        f"\nlate subscriber through the hub: first frame "
        f"{(late.first_video_at - late.connected_at) * 1000:.0f} ms after connecting"
    )
    await late.until(lambda: late.video_frames >= 10 and late.audio_frames >= 10, 90)
    assert set(router.subscribers) >= {pid(student.client), pid(late.client)}

    # a student without the grant may not publish: the worker refuses, nothing is added
    refused = await student.publish_refused()
    assert refused["code"] == "forbidden"
    assert set(router.publishers) == {pid(teacher.client)}

    # the host allows the student to publish: the teacher receives the student's media
    await teacher.client.send(
        {"type": "allow", "target": pid(student.client), "publish": True, "rid": "g"}
    )
    await student.message(lambda m: m["type"] == "grants" and m["grants"]["publish"], 10)
    await student.publish()
    assert set(router.publishers) == {pid(teacher.client), pid(student.client)}
    await teacher.until(lambda: teacher.video_frames >= 10 and teacher.audio_frames >= 10, 90)
    assert all(t.startswith(pid(student.client)) for t in teacher.track_ids)
    # ...and withdraws it: the worker stops forwarding the student's media
    await teacher.client.send(
        {"type": "allow", "target": pid(student.client), "publish": False, "rid": "r"}
    )
    publishing = student.pub_pc
    assert publishing is not None
    await student.until(lambda: publishing.connectionState in ("closed", "failed"), 90)
    assert set(router.publishers) == {pid(teacher.client)}

    # the teacher's network changes: they start over, and the students receive them again
    frames = late.video_frames
    await teacher.request_restart()
    await late.until(lambda: late.video_frames >= frames + 10, 90)
    assert set(router.publishers) == {pid(teacher.client)}

    # the late student leaves: the worker tears their connection down
    await late.client.send({"type": "leave"})
    await late.until(lambda: late.pc.connectionState in ("closed", "failed"), 90)
    assert pid(late.client) not in router.subscribers


async def test_publishing_stops_and_starts_through_the_hub(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    nodes: tuple[Hub, Hub],
    worker: MediaWorker,
    peers: list[HubPeer],
) -> None:
    """Camera off and on, three times: ``unpublish`` ends the teacher's tracks for the
    student at once (their m-lines go inactive), and an offer on a fresh connection
    publishes anew; the student decodes the new media each time."""
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = HubPeer(await join(client, a, sid, people.teacher))
    student = HubPeer(await join(client, b, sid, people.student))
    peers += [teacher, student]
    await teacher.publish()
    await student.until(lambda: student.video_frames >= 10, 90)
    router = worker.rooms[sid].router
    for _ in range(3):
        await teacher.unpublish()
        await student.until(
            lambda: (
                [t.currentDirection for t in student.pc.getTransceivers()]
                == ["inactive", "inactive"]
            ),
            90,
        )
        assert router.publishers == {}
        marks = student.video_frames, student.audio_frames
        await teacher.publish()
        await student.until_frames(marks[0] + 10, marks[1] + 10, 90)
        assert set(router.publishers) == {pid(teacher.client)}
        assert len(student.pc.getTransceivers()) == 2  # the freed m-lines were reused


async def _consent_lost(lost: RTCPeerConnection, teacher: HubPeer) -> None:
    """What aioice does when six consent checks in a row go unanswered (an overloaded
    worker): its connection closes, the ICE transport and the peer connection turn
    ``failed``."""
    ice = lost.getTransceivers()[0].receiver.transport.transport
    await ice._connection.close()


async def _dtls_ended_on_the_worker(lost: RTCPeerConnection, teacher: HubPeer) -> None:
    """The worker's own DTLS transport ends (an error in its receive loop, say): the peer
    connection turns ``closed``, not ``failed`` (this used to go unreported: only an ICE
    that gave up was)."""
    await lost.getTransceivers()[0].receiver.transport.stop()


@pytest.mark.parametrize("close", [_consent_lost, _dtls_ended_on_the_worker])
async def test_a_publisher_connection_that_closes_is_reported_and_published_again(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    nodes: tuple[Hub, Hub],
    worker: MediaWorker,
    peers: list[HubPeer],
    close: Callable[[RTCPeerConnection, HubPeer], Awaitable[None]],
) -> None:
    """However the publisher's connection ends (failed or closed) without the client
    hanging up: the worker tears it down, tells the publisher (``restart``,
    ``publisher_lost``), and the client publishes again, within 5 s of the loss."""
    sid = (await new_session(start=True))["id"]
    teacher, student = await teacher_and_student(client, nodes[0], sid, people, peers)
    await student.until(lambda: student.video_frames >= 10, 90)
    router = worker.rooms[sid].router
    lost = router.publishers[pid(teacher.client)]

    started = time.monotonic()
    await close(lost.pc, teacher)

    def published_again() -> bool:
        publisher = router.publishers.get(pid(teacher.client))
        return publisher is not None and publisher is not lost and bool(publisher.tracks)

    await teacher.until(lambda: teacher.restarts >= 1, 5)
    await eventually(published_again, within=5 - (time.monotonic() - started))
    print(f"published again {time.monotonic() - started:.2f} s after the connection ended")
    assert lost.pc.connectionState == "closed"
    assert teacher.restart_reasons == ["publisher_lost"]
    # the student receives the new publication
    seen = student.video_frames
    await student.until(lambda: student.video_frames >= seen + 10, 30)


async def test_a_layered_camera_offer_through_the_hub_is_one_track_with_two_layers(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    nodes: tuple[Hub, Hub],
    worker: MediaWorker,
    peers: list[HubPeer],
) -> None:
    a, _ = nodes
    sid = (await new_session(start=True))["id"]
    teacher = HubPeer(await join(client, a, sid, people.teacher))
    student = HubPeer(await join(client, a, sid, people.student))
    peers += [teacher, student]
    await teacher.publish(layered=True)
    router = worker.rooms[sid].router
    [video] = [t for t in router.tracks if t.kind == "video"]
    assert len(video.layers) == 2
    await student.until(lambda: student.video_frames >= 10, 90)
    assert sorted(t.split(":")[1] for t in student.track_ids) == ["audio", "video"]


async def test_a_publisher_connection_the_client_hangs_up_is_torn_down_quietly(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    nodes: tuple[Hub, Hub],
    worker: MediaWorker,
    peers: list[HubPeer],
) -> None:
    """The client closed its publishing connection itself (its DTLS close_notify arrives;
    a browser's camera off does this beside ``unpublish``): the worker tears the
    publication down and does not tell the client to start over (it knows)."""
    sid = (await new_session(start=True))["id"]
    teacher, student = await teacher_and_student(client, nodes[0], sid, people, peers)
    await student.until(lambda: student.video_frames >= 10, 90)
    router = worker.rooms[sid].router
    lost = router.publishers[pid(teacher.client)]
    assert teacher.pub_pc is not None
    offers = len(student.sfu_offers)

    await teacher.pub_pc.getTransceivers()[0].sender.transport.stop()

    await eventually(lambda: pid(teacher.client) not in router.publishers, within=10)
    await eventually(lambda: lost.pc.connectionState == "closed", within=10)
    # the student is offered the room without those tracks, after any restart would have
    # been sent (the teardown reports first, the tracks' end is renegotiated after)
    await student.until(lambda: len(student.sfu_offers) > offers, 30)
    assert teacher.restart_reasons == []
    assert teacher.restarts == 0
