"""A media worker dies mid-class: its rooms move to a live worker and clients renegotiate.

The worker is "killed" in-process: its loops stop and its connections drop, but it neither
leaves the registry nor releases its rooms, as after ``kill -9``. Once its heartbeat is older
than the TTL, the hub's periodic check moves the room to the surviving worker and tells every
participant to restart; the teacher publishes again, the student receives again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiortc import RTCSessionDescription

from api.services import Services
from media.aiortc_hooks import host_addresses
from media.worker import MediaWorker
from rooms.media_registry import MediaRegistry
from signaling.hub import Hub
from tests.conftest import FakeClock, People
from tests.media.hub_peers import HubPeer, crash, join, teacher_and_student
from tests.media.peers import LOOPBACK, client_pc

pytestmark = pytest.mark.parametrize("backend", ["services"], indirect=True)


@pytest.fixture
async def hub(start_hub: Callable[[str], Awaitable[Hub]]) -> Hub:
    return await start_hub("node-a")


@pytest.fixture
async def workers(start_worker: Callable[..., Awaitable[MediaWorker]]) -> list[MediaWorker]:
    return [await start_worker("worker-a"), await start_worker("worker-b")]


async def answer_with_a_new_connection(offer_sdp: str) -> str:
    pc = client_pc()
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        with host_addresses(LOOPBACK):
            await pc.setLocalDescription(await pc.createAnswer())
        sdp: str = pc.localDescription.sdp
        return sdp
    finally:
        await pc.close()


async def test_a_dead_workers_room_moves_and_clients_renegotiate(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    hub: Hub,
    workers: list[MediaWorker],
    peers: list[HubPeer],
    services: Services,
    clock: FakeClock,
) -> None:
    sid = (await new_session(start=True))["id"]
    teacher, student = await teacher_and_student(client, hub, sid, people, peers)
    await student.until(lambda: student.video_frames >= 10, 90)
    registry = MediaRegistry(services.redis, ttl_seconds=10, clock=clock)
    doomed = next(w for w in workers if sid in w.rooms)
    survivor = next(w for w in workers if w is not doomed)

    await hub._sweep()  # the node learns where the room's media is
    await crash(doomed)
    clock.advance(11)
    await registry.heartbeat(survivor.worker_id)
    await hub._heartbeat()  # the periodic jobs, run by hand at a known time
    await hub._sweep()

    assert await registry.worker_of(sid) == survivor.worker_id
    await teacher.until(lambda: teacher.restarts == 1, 90)
    await student.until(lambda: student.restarts == 1, 90)
    frames = student.video_frames
    await student.until(
        lambda: student.video_frames >= frames + 10 and student.audio_frames >= 10, 20
    )
    assert sid in survivor.rooms
    assert set(survivor.rooms[sid].router.subscribers) >= {
        student.client.welcome["participant"]["id"]  # type: ignore[attr-defined]
    }


@dataclass
class Crashed:
    """Two nodes, the teacher publishing on A, the student receiving on B; the room's worker
    has just died (its heartbeat is older than the TTL) and neither node has swept since."""

    sid: str
    hub_a: Hub
    hub_b: Hub
    teacher: HubPeer
    student: HubPeer
    registry: MediaRegistry
    survivor: MediaWorker


@pytest.fixture
async def crashed(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    start_hub: Callable[[str], Awaitable[Hub]],
    workers: list[MediaWorker],
    peers: list[HubPeer],
    services: Services,
    clock: FakeClock,
) -> Crashed:
    hub_a, hub_b = await start_hub("node-a"), await start_hub("node-b")
    sid = (await new_session(start=True))["id"]
    teacher = HubPeer(await join(client, hub_a, sid, people.teacher))
    student = HubPeer(await join(client, hub_b, sid, people.student))
    peers += [teacher, student]
    await teacher.publish()
    await student.until(lambda: student.video_frames >= 10, 90)
    registry = MediaRegistry(services.redis, ttl_seconds=10, clock=clock)
    doomed = next(w for w in workers if sid in w.rooms)
    survivor = next(w for w in workers if w is not doomed)
    await hub_a._sweep()
    await hub_b._sweep()

    await crash(doomed)
    clock.advance(11)
    await registry.heartbeat(survivor.worker_id)
    await hub_a._heartbeat()
    await hub_b._heartbeat()
    return Crashed(sid, hub_a, hub_b, teacher, student, registry, survivor)


async def test_a_participant_offered_by_the_new_worker_before_its_restart_receives_again(
    crashed: Crashed,
) -> None:
    """Two nodes notice the dead worker one sweep apart: the teacher's node moves the room
    and the teacher publishes again, so the new worker offers the student (on the other
    node) the room's media before the student is told to restart. The student answers with
    the connection it then drops; its node's restart must bring a new offer."""
    hub_a, hub_b, teacher, student = crashed.hub_a, crashed.hub_b, crashed.teacher, crashed.student
    answered = student.offers_answered
    await hub_a._sweep()  # only node A has noticed yet
    await teacher.until(lambda: teacher.restarts == 1, 90)
    # The new worker's offer reached the student's old connection, which answered it (a
    # killed process's connection stays open) or refused it (closed when the worker's died).
    await student.until(lambda: student.offers_answered > answered or bool(student.failures), 90)
    assert student.restarts == 0

    await hub_b._sweep()
    await student.until(lambda: student.restarts == 1, 90)
    frames = student.video_frames
    await student.until(lambda: student.video_frames >= frames + 10, 90)
    assert await crashed.registry.worker_of(crashed.sid) == crashed.survivor.worker_id


async def test_an_answer_to_the_old_connection_arriving_after_the_new_offer_is_ignored(
    crashed: Crashed,
) -> None:
    """The same two sweeps, with the student's answer to the new worker's first offer (made
    on the connection it then drops) reaching the worker only after its restart brought a
    second offer. Applied to that second offer, it would leave the student's new connection
    unanswered and without media; it names the first offer, so the worker drops it."""
    hub_a, hub_b, student = crashed.hub_a, crashed.hub_b, crashed.student
    offered = len(student.sfu_offers)
    await hub_a._sweep()  # node A moves the room; the new worker offers the student
    await student.until(lambda: len(student.sfu_offers) > offered, 90)
    first = student.sfu_offers[offered]
    # What the student's old connection answers (or would have: it may be closed already).
    stale = {
        "type": "signal",
        "to": "sfu",
        "kind": "answer",
        "sdp": await answer_with_a_new_connection(first["sdp"]),
        "offerId": first["offerId"],
    }
    student.held_answers = []
    await hub_b._sweep()  # node B restarts the student; the new worker offers again

    def answered_the_new_connection() -> bool:
        # (the old connection may also have had a renegotiation to answer meanwhile)
        new = {
            o["offerId"] for o in student.sfu_offers if o["connectionId"] != first["connectionId"]
        }
        return student.restarts == 1 and any(
            answer["offerId"] in new for answer in student.held_answers or []
        )

    await student.until(answered_the_new_connection, 90)
    await student.client.send(stale)  # the stale answer reaches the worker first
    await student.release_answers()  # then the new connection's

    frames = student.video_frames
    await student.until(lambda: student.video_frames >= frames + 10, 90)
    assert not student.errors


async def test_the_new_workers_first_offer_arriving_after_the_restart_is_answered_apart(
    crashed: Crashed,
) -> None:
    """The new worker's first offer to the student (sent when the teacher re-published) is
    overtaken by the student's own node's ``restart``: the student gets restart, that
    offer, then the offer of the connection that replaced it. Each server connection gets
    its own client connection (the offers name theirs), so the last one connects."""
    hub_a, hub_b, student = crashed.hub_a, crashed.hub_b, crashed.student
    held: list[dict[str, Any]] = []
    student.held_signals = held
    await hub_a._sweep()  # node A moves the room; the new worker offers the student
    await student.until(lambda: any(m["kind"] == "offer" for m in held), 90)
    await hub_b._sweep()  # node B restarts the student; the new worker offers again
    await student.until(lambda: sum(m["kind"] == "offer" for m in held) == 2, 90)
    student.held_signals = None
    first, restart, second = held
    assert (first["kind"], restart["kind"], second["kind"]) == ("offer", "restart", "offer")
    assert first["connectionId"] != second["connectionId"]
    await student.handle(restart, first, second)

    frames = student.video_frames
    await student.until(lambda: student.video_frames >= frames + 10, 90)
    assert student.restarts == 1
    assert not student.errors
