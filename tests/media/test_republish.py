"""Publishing that stops and starts: a participant closes their publishing connection and
publishes anew on a fresh one (camera off and on, a switched device, a reload); every
subscriber gets the new media each time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from media.config import RouterConfig
from media.router import Router
from media.subscriber import Offer
from tests.media.peers import LOOPBACK, ClientPublisher, ClientSubscriber


@pytest.fixture
async def room() -> AsyncIterator[tuple[Router, dict[str, ClientSubscriber]]]:
    subscribers: dict[str, ClientSubscriber] = {}

    def on_offer(participant_id: str, offer: Offer) -> None:
        subscribers[participant_id].offers.put_nowait(offer)

    router = Router("room-1", on_offer=on_offer, config=RouterConfig(host_addresses=LOOPBACK))
    try:
        yield router, subscribers
    finally:
        for subscriber in subscribers.values():
            await subscriber.close()
        await asyncio.wait_for(router.close(), 10)


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
            marks = viewer.video_frames, viewer.audio_frames
            await viewer.until(
                lambda m=marks: (
                    viewer.video_frames >= m[0] + 15 and viewer.audio_frames >= m[1] + 15
                ),
                10,
            )
            assert len(router.tracks) == 2
            # the ended tracks' m-lines carry the new ones: the viewer's connection keeps two
            assert len(viewer.pc.getTransceivers()) == 2
    finally:
        await publisher.close()
