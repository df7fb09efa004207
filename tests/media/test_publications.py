"""A participant's publications: a camera that stops and starts (they close their publishing
connection and publish anew on a fresh one: camera off and on, a switched device, a reload),
and a screen shared beside it on a connection of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from media.router import Router
from tests.media.peers import ClientPublisher, ClientSubscriber, subscribed_router


def more_frames(viewer: ClientSubscriber, count: int) -> Callable[[], bool]:
    """Until ``viewer`` has ``count`` more video and audio frames than it has now."""
    video, audio = viewer.video_frames, viewer.audio_frames
    return lambda: viewer.video_frames >= video + count and viewer.audio_frames >= audio + count


@pytest.fixture
async def room() -> AsyncIterator[tuple[Router, dict[str, ClientSubscriber]]]:
    async with subscribed_router() as value:
        yield value


async def test_a_fresh_publishing_connection_replaces_the_old_one_three_times(
    room: tuple[Router, dict[str, ClientSubscriber]],
) -> None:
    router, subscribers = room
    publisher = ClientPublisher(router, "teacher")
    await asyncio.wait_for(publisher.publish(), 10)
    viewer = subscribers["viewer"] = ClientSubscriber(router, "viewer")
    await asyncio.wait_for(viewer.join(), 10)
    await viewer.until(lambda: viewer.video_frames >= 10 and viewer.audio_frames >= 10, 15)
    try:
        for _ in range(3):
            await publisher.close()  # camera off: the browser closes its connection
            publisher = ClientPublisher(router, "teacher")
            await asyncio.wait_for(publisher.publish(), 10)
            await viewer.until(more_frames(viewer, 15), 10)
            assert len(router.tracks) == 2
            # the ended tracks' m-lines carry the new ones: the viewer's connection keeps two
            assert len(viewer.pc.getTransceivers()) == 2
    finally:
        await publisher.close()


async def test_a_screen_is_shared_beside_the_camera_and_stopped_alone(
    room: tuple[Router, dict[str, ClientSubscriber]],
) -> None:
    router, subscribers = room
    camera = ClientPublisher(router, "teacher")
    screen = ClientPublisher(router, "teacher", source="screen")
    await asyncio.wait_for(camera.publish(), 10)
    await asyncio.wait_for(screen.publish(), 10)
    assert set(router.publications) == {("teacher", "camera"), ("teacher", "screen")}
    assert set(router.publishers) == {"teacher"}  # the camera publication
    viewer = subscribers["viewer"] = ClientSubscriber(router, "viewer")
    await asyncio.wait_for(viewer.join(), 10)
    try:
        # four tracks, the screen's in a stream of its own: "<participant>:screen"
        await viewer.until(lambda: len(viewer.frames_by_track) == 4, 15)
        streams = {line.split()[0] for line in viewer.last_offer.split("a=msid:")[1:]}
        assert streams == {"teacher", "teacher:screen"}
        assert sorted(t.split(":")[1] for t in viewer.track_ids) == [
            "audio",
            "screen-audio",
            "screen-video",
            "video",
        ]
        assert {d["source"] for d in router.tracks_of("viewer")} == {"camera", "screen"}

        # she stops sharing: the screen's m-lines go inactive, the camera plays on
        await router.unpublish("teacher", "screen")
        assert set(router.publications) == {("teacher", "camera")}
        await viewer.until(lambda: viewer.directions().count("inactive") == 2, 10)
        camera_video = next(t for t in viewer.track_ids if t.split(":")[1] == "video")
        mark = viewer.frames_by_track[camera_video]
        await viewer.until(lambda: viewer.frames_by_track[camera_video] >= mark + 15, 10)
    finally:
        await camera.close()
        await screen.close()
