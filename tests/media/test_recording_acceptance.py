"""Acceptance 2: a recording of real media, downloaded through its signed link.

A teacher publishes real aiortc VP8 video and Opus audio through a hub node to a media worker
(everything over the bus, on the real Redis). The host starts a server recording over REST,
it runs for about 5 s of media, and stops: the room hears ``recording`` started and ready, the
recording is listed ready with its size and duration, its signed access link downloads a WebM
that PyAV opens with one VP8 and one Opus stream lasting 5 s ± 0.5 s, HTTP Range answers 206,
and an altered or expired link is refused (403). A second recording ends with the session.

A worker killed mid-recording leaves the recording failed (the sweeper), never "recording".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import av
import httpx
import pytest

from api.services import Services
from media.recorder import Recorder
from media.worker import MediaWorker
from rooms.bus_events import BusEvent, RoomMessage
from rooms.bus_port import Bus
from rooms.media_registry import MediaRegistry
from signaling.hub import Hub
from tests.conftest import FakeClock, People
from tests.media.hub_peers import HubPeer, crash, join
from tests.media.test_recording_api import recording_of
from tests.waiting import eventually

pytestmark = pytest.mark.parametrize("backend", ["services"], indirect=True)

RECORD_SECONDS = 5.0


async def recorder_of(worker: MediaWorker, sid: str) -> Recorder:
    desk = worker.recordings
    assert desk is not None
    await eventually(lambda: desk.recorder_of(sid) is not None, 30)
    recorder = desk.recorder_of(sid)
    assert recorder is not None
    return recorder


async def recorded(recorder: Recorder, seconds: float) -> None:
    """Until the recorder has written ``seconds`` of media (by the media's own timestamps, so
    a loaded machine records as much as an idle one)."""
    await eventually(lambda: recorder.duration >= seconds, seconds * 6 + 30)


async def announced(teacher: HubPeer, rid: str, status: str) -> dict[str, Any]:
    """The room's ``recording`` message for ``rid`` in ``status``: sent once the row has that
    status (after its commit), so REST shows it from then on."""
    return await teacher.message(
        lambda m: m["type"] == "recording" and m["recordingId"] == rid and m["status"] == status,
        30,
    )


async def heard(bus: Bus, rid: str, status: str) -> None:
    """Until the room's bus (``bus`` subscribed to it) carries the ``recording`` message for
    ``rid`` in ``status``: the room is told after the row's commit, also when nobody is left
    in it to receive the message."""
    # events() is an async generator: aclosing ends it here, not at garbage collection
    events = cast("AsyncGenerator[tuple[str, BusEvent]]", bus.events(poll_timeout=0.5))
    async with asyncio.timeout(30), contextlib.aclosing(events):
        async for _, event in events:
            m = event.message if isinstance(event, RoomMessage) else {}
            if (m.get("type"), m.get("recordingId"), m.get("status")) == ("recording", rid, status):
                return


@dataclass
class Recording:
    """A live room whose teacher publishes real media, recorded by a media worker."""

    worker: MediaWorker
    sid: str
    teacher: HubPeer
    rid: str
    recorder: Recorder


@pytest.fixture
async def start_recording(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    start_hub: Callable[[str], Awaitable[Hub]],
    start_worker: Callable[..., Awaitable[MediaWorker]],
    peers: list[HubPeer],
) -> Callable[[str, str], Awaitable[Recording]]:
    """``await start_recording(node_id, worker_id)``: a hub node and a media worker, a live
    session whose teacher publishes video and audio, and its recording started over REST."""

    async def start(node_id: str, worker_id: str) -> Recording:
        hub = await start_hub(node_id)
        worker = await start_worker(worker_id)
        sid = (await new_session(start=True))["id"]
        teacher = HubPeer(await join(client, hub, sid, people.teacher))
        peers.append(teacher)
        await teacher.publish()
        started = await client.post(
            f"/api/v1/sessions/{sid}/recording/start", headers=people.teacher
        )
        assert started.status_code == 201, started.text
        recorder = await recorder_of(worker, sid)
        return Recording(worker, sid, teacher, started.json()["id"], recorder)

    return start


async def test_a_recording_of_real_media_downloads_as_webm_through_its_signed_link(
    client: httpx.AsyncClient,
    people: People,
    start_recording: Callable[[str, str], Awaitable[Recording]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    recording = await start_recording("node-rec", "worker-rec")
    worker, sid, teacher, rid = recording.worker, recording.sid, recording.teacher, recording.rid
    await recorded(recording.recorder, RECORD_SECONDS)
    stopped = await client.post(f"/api/v1/sessions/{sid}/recording/stop", headers=people.teacher)
    assert stopped.status_code == 202, stopped.text

    await announced(teacher, rid, "ready")
    ready = await recording_of(client, rid, people.teacher)
    assert ready["status"] == "ready"
    statuses = [m["status"] for m in teacher.messages if m["type"] == "recording"]
    assert statuses == ["started", "ready"]
    assert ready["size"] > 0
    assert 4.5 <= ready["duration"] <= 6.0
    assert ready["startedAt"] <= ready["stoppedAt"]
    listed = await client.get(f"/api/v1/sessions/{sid}/recordings", headers=people.student)
    assert [r["status"] for r in listed.json()["recordings"]] == ["ready"]
    assert listed.json()["recordingUrl"] == ready["downloadLink"]

    # the signed access link: no bearer token needed
    link = ready["accessLink"]["url"]
    response = await client.get(link)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/webm"
    assert len(response.content) == ready["size"]
    path = tmp_path / "downloaded.webm"
    path.write_bytes(response.content)
    with av.open(str(path)) as container:
        codecs = {s.type: s.codec_context.name for s in container.streams}
        duration = (container.duration or 0) / av.time_base
        video_frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        audio_frames = sum(1 for _ in container.decode(audio=0))
    desk = worker.recordings
    assert desk is not None
    print(
        f"\nrecording: {duration:.2f} s, {ready['size']} bytes, {video_frames} video and "
        f"{audio_frames} audio frames decoded; statuses seen {statuses}; remux "
        f"{desk.mux_seconds / desk.packets * 1e6:.0f} µs/packet over {desk.packets} packets"
    )
    assert codecs == {"video": "vp8", "audio": "opus"}
    assert RECORD_SECONDS - 0.5 <= duration <= RECORD_SECONDS + 1.0
    assert video_frames >= 30
    assert audio_frames >= 100

    # HTTP Range
    partial = await client.get(link, headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206
    assert partial.content == response.content[:100]
    assert partial.headers["content-range"] == f"bytes 0-99/{ready['size']}"

    # an altered link is refused
    signature = link.rsplit("signature=", 1)[1]
    altered = link[: -len(signature)] + ("0" if signature[0] != "0" else "1") + signature[1:]
    refused = await client.get(altered)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "invalid_signature"

    # a second recording ends with the session (and is ready, not left recording)
    second = await client.post(f"/api/v1/sessions/{sid}/recording/start", headers=people.teacher)
    assert second.status_code == 201, second.text
    await recorded(await recorder_of(worker, sid), 1.0)
    # The session's end closes the teacher's connection too: the room's bus hears "ready".
    room = services.new_bus()
    await room.subscribe(room.room_channel(sid))
    try:
        ended = await client.post(f"/api/v1/sessions/{sid}/end", headers=people.teacher)
        assert ended.status_code == 200, ended.text
        await heard(room, second.json()["id"], "ready")
    finally:
        await room.close()
    finished = await recording_of(client, second.json()["id"], people.teacher)
    assert finished["status"] == "ready"
    assert finished["duration"] >= 1.0

    # ...and once the link's time is up, it is refused
    clock.advance(services.settings.access_link_ttl_seconds + 1)
    expired = await client.get(link)
    assert expired.status_code == 403
    assert expired.json()["error"]["code"] == "link_expired"


async def test_a_worker_killed_mid_recording_leaves_the_recording_failed(
    client: httpx.AsyncClient,
    people: People,
    start_recording: Callable[[str, str], Awaitable[Recording]],
    services: Services,
    clock: FakeClock,
) -> None:
    recording = await start_recording("node-kill", "worker-doomed")
    worker, sid, teacher, rid = recording.worker, recording.sid, recording.teacher, recording.rid
    recorder = recording.recorder
    await recorded(recorder, 0.5)
    assert recorder.path.exists()

    # a live worker's recording is left alone by the sweeper
    assert await services.server_recordings.sweep() == []
    await crash(worker)  # kill -9: no retire, no finish
    clock.advance(11)  # its heartbeat is older than the TTL now
    assert worker.worker_id not in await MediaRegistry(services.redis, clock=clock).alive()
    failed = await services.server_recordings.sweep()
    assert [r.id for r in failed] == [rid]

    body = await recording_of(client, rid, people.teacher)  # the sweep has committed it
    assert body["status"] == "failed"
    assert body["stoppedAt"] is not None
    assert not recorder.path.exists()  # the partial file is gone
    message = await teacher.message(
        lambda m: m["type"] == "recording" and m["status"] == "failed", 30
    )
    assert "worker-doomed" in message["reason"]
    # the host may record again (on the worker the room moves to)
    stop = await client.post(f"/api/v1/sessions/{sid}/recording/stop", headers=people.teacher)
    assert stop.json()["error"]["code"] == "not_recording"
