"""Layered publishing through a real router on loopback: the m-lines an offer names as
``low`` and ``high`` become one track that subscribers receive on one m-line (at the high
layer on a good link); without ``layers`` (an older client) each m-line stays a track."""

from __future__ import annotations

from bench.media.adaptive import HIGH_SIZE, LayeredPublisher
from tests.media.peers import ClientSubscriber, subscribed_router


async def test_two_named_layers_are_one_track_received_at_the_high_layer() -> None:
    async with subscribed_router() as (router, subscribers):
        publisher = LayeredPublisher(router)
        try:
            await publisher.publish()
            [track] = router.tracks
            assert [layer.track_id for layer in track.layers][-1] == track.track_id
            assert len(track.layers) == 2
            viewer = subscribers["viewer"] = ClientSubscriber(router, "viewer")
            await viewer.join()
            await viewer.until(lambda: viewer.video_frames >= 30, within=20)
            assert viewer.video_sizes == {HIGH_SIZE}
            assert len(viewer.pc.getTransceivers()) == 1
            [output] = router.subscribers["viewer"].outputs
            assert output.layer is track
            assert output.layer_index == 1
        finally:
            await publisher.close()


async def test_without_layers_each_encoding_is_a_track_of_its_own() -> None:
    async with subscribed_router() as (router, subscribers):
        publisher = LayeredPublisher(router)
        try:
            await publisher.publish(layered=False)
            assert len(router.tracks) == 2
            assert all(len(t.layers) == 1 for t in router.tracks)
            viewer = subscribers["viewer"] = ClientSubscriber(router, "viewer")
            await viewer.join()
            await viewer.until(lambda: len(viewer.video_sizes) == 2, within=20)
            assert len(viewer.pc.getTransceivers()) == 2
        finally:
            await publisher.close()
