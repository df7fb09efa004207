"""The router's API: refusals, own tracks, re-offers, m-line reuse, trickled ICE, teardown."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCSessionDescription

from media.aiortc_hooks import host_addresses
from media.config import RouterConfig
from media.errors import MediaError
from media.router import Router
from media.subscriber import Offer
from tests.media.peers import (
    LOOPBACK,
    ClientPublisher,
    ClientSubscriber,
    PatternVideoTrack,
    ToneAudioTrack,
    client_pc,
)


class Room:
    def __init__(self) -> None:
        self.subscribers: dict[str, ClientSubscriber] = {}
        self.publishers: list[ClientPublisher] = []
        self.offers: list[tuple[str, Offer]] = []
        self.router = Router(
            "room-2", on_offer=self._on_offer, config=RouterConfig(host_addresses=LOOPBACK)
        )

    def _on_offer(self, participant_id: str, offer: Offer) -> None:
        self.offers.append((participant_id, offer))
        if participant_id in self.subscribers:
            self.subscribers[participant_id].offers.put_nowait(offer)

    def subscriber(self, participant_id: str) -> ClientSubscriber:
        client = self.subscribers[participant_id] = ClientSubscriber(self.router, participant_id)
        return client

    def publisher(self, participant_id: str) -> ClientPublisher:
        client = ClientPublisher(self.router, participant_id)
        self.publishers.append(client)
        return client


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    r = Room()
    try:
        yield r
    finally:
        for s in r.subscribers.values():
            await s.close()
        await asyncio.wait_for(r.router.close(), 10)
        for p in r.publishers:
            await p.close()


async def client_offer(*, video: bool = True, audio: bool = True) -> str:
    pc = client_pc()
    if video:
        pc.addTrack(PatternVideoTrack())
    if audio:
        pc.addTrack(ToneAudioTrack())
    with host_addresses(LOOPBACK):
        await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def without_candidates(sdp: str) -> tuple[str, list[str]]:
    lines = sdp.splitlines()
    candidates = [line[2:] for line in lines if line.startswith("a=candidate:")]
    kept = [x for x in lines if not x.startswith(("a=candidate:", "a=end-of-candidates"))]
    return "\r\n".join(kept) + "\r\n", candidates


def ufrag_of(sdp: str) -> str:
    match = re.search(r"a=ice-ufrag:(\S+)", sdp)
    assert match
    return match.group(1)


async def refused(code: str, awaitable: object) -> None:
    with pytest.raises(MediaError) as err:
        await awaitable  # type: ignore[misc]
    assert err.value.code == code, err.value


async def test_refusals(room: Room) -> None:
    router = room.router
    await refused("unknown_participant", router.answer("nobody", "v=0\r\n"))
    await refused("unknown_participant", router.add_ice("nobody", None))
    await refused("invalid_sdp", router.publish("p", ""))
    assert router.publishers == {}
    pcmu_only = re.sub(r"m=audio (\d+) (\S+) [\d ]+", r"m=audio \1 \2 0", await client_offer())
    pcmu_only = pcmu_only.replace("a=rtpmap:96 opus/48000/2", "a=rtpmap:0 PCMU/8000")
    await refused("unsupported_media", router.publish("p", pcmu_only))
    assert router.publishers == {}  # a failed first offer leaves nothing behind
    assert await router.subscribe("s") is None  # nothing published yet
    assert await router.subscribe("s") is None  # idempotent
    await refused("no_offer_pending", router.answer("s", "v=0\r\n"))
    await refused("invalid_candidate", router.add_ice("s", {"candidate": "candidate:x"}))
    await router.remove("nobody")  # ignored
    await router.close()
    await router.close()
    await refused("closed", router.subscribe("t"))
    await refused("closed", router.publish("t", await client_offer()))


async def client_answer(offer: Offer) -> str:
    """A fresh client connection's answer to ``offer`` (the connection is closed after)."""
    pc = client_pc()
    await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
    with host_addresses(LOOPBACK):
        await pc.setLocalDescription(await pc.createAnswer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


async def test_an_answer_to_a_replaced_offer_is_refused_and_changes_nothing(room: Room) -> None:
    """After a failover a client's answer to the old connection's offer can reach the worker
    after the new connection's offer went out: it must not be applied to the new one."""
    router = room.router
    await router.publish("teacher", await client_offer())
    first = await router.subscribe("student")
    assert first is not None
    assert router.is_pending("student", first)
    stale = await client_answer(first)
    await router.unsubscribe("student")  # their receiving connection was replaced
    second = await router.subscribe("student")
    assert second is not None
    assert second.id != first.id
    assert second.connection != first.connection  # the client must answer on a new one
    assert not router.is_pending("student", first)
    assert router.is_pending("student", second)

    await refused("stale_answer", router.answer("student", stale, first.id))
    assert router.subscribers["student"].pc.signalingState == "have-local-offer"
    assert router.is_pending("student", second)

    await router.answer("student", await client_answer(second), second.id)
    assert router.subscribers["student"].pc.signalingState == "stable"
    assert not router.is_pending("student", second)
    # once answered, the same answer again is stale too (nothing is pending)
    await refused("stale_answer", router.answer("student", stale, second.id))


async def test_an_answer_without_an_offer_id_answers_the_pending_offer(room: Room) -> None:
    """Clients that do not echo ``offerId`` keep working."""
    router = room.router
    await router.publish("teacher", await client_offer())
    offer = await router.subscribe("student")
    assert offer is not None
    await router.answer("student", await client_answer(offer))
    assert router.subscribers["student"].pc.signalingState == "stable"


async def test_participants_never_receive_their_own_tracks(room: Room) -> None:
    router = room.router
    answer = await router.publish("teacher", await client_offer())
    assert answer.count("b=AS:") == 2
    assert "a=recvonly" in answer
    assert await router.subscribe("teacher") is None
    subscribed = await router.subscribe("student")
    assert subscribed is not None
    offer = subscribed.sdp
    assert offer.count("m=") == 2
    assert offer.count("a=sendonly") == 2
    assert len(re.findall(r"a=msid:teacher teacher:(video|audio):\d", offer)) == 2
    assert "VP8/90000" in offer
    assert "H264" not in offer
    assert "PCMU" not in offer
    assert [o["publisher"] for o in router.tracks_of("student")] == ["teacher", "teacher"]
    assert router.stats()["publishers"] == 1
    assert len(router.stats()["tracks"]) == 2
    await router.remove("teacher")
    assert router.tracks == []
    # the student's offer was never answered: the removal waits for that answer
    assert room.offers == []


async def test_re_offers_and_m_line_reuse_with_media(room: Room) -> None:
    router = room.router
    first = room.publisher("first")
    first.pc.addTrack(first.video)
    with host_addresses(LOOPBACK):
        await first.pc.setLocalDescription(await first.pc.createOffer())
    answer = await router.publish("first", first.pc.localDescription.sdp)
    await first.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    student = room.subscriber("student")
    await asyncio.wait_for(student.join(), 10)
    await student.until(lambda: student.video_frames >= 10, 10)

    # the publisher adds audio: a re-offer on the same connection; the student renegotiates
    first.pc.addTrack(first.audio)
    with host_addresses(LOOPBACK):
        await first.pc.setLocalDescription(await first.pc.createOffer())
    answer = await router.publish("first", first.pc.localDescription.sdp)
    await first.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    assert len(router.tracks) == 2
    await student.until(lambda: student.audio_frames >= 10, 10)
    assert student.answered == 2

    # the publisher leaves, another one comes: the student's m-lines are reused
    await router.remove("first")
    await student.until(lambda: student.answered == 3, 10)
    assert student.directions() == ["inactive", "inactive"]
    second = room.publisher("second")
    await asyncio.wait_for(second.publish(), 10)
    await student.until(lambda: student.answered == 4, 10)
    assert student.last_offer.count("m=") == 2
    assert student.last_offer.count("a=msid:second second:") == 2
    assert student.directions() == ["recvonly", "recvonly"]
    video, audio = student.video_frames, student.audio_frames
    await student.until(
        lambda: student.video_frames >= video + 15 and student.audio_frames >= audio + 15, 10
    )
    assert [o["publisher"] for o in router.tracks_of("student")] == ["second", "second"]


async def test_trickled_candidates_both_connections(room: Room) -> None:
    router = room.router
    # publisher: the offer goes without candidates, they follow one by one
    publisher = room.publisher("teacher")
    publisher.pc.addTrack(publisher.video)
    with host_addresses(LOOPBACK):
        await publisher.pc.setLocalDescription(await publisher.pc.createOffer())
    offer, candidates = without_candidates(publisher.pc.localDescription.sdp)
    assert candidates
    answer = await router.publish("teacher", offer)
    await publisher.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    for line in candidates:
        await router.add_ice(
            "teacher", {"candidate": line, "sdpMid": "0", "usernameFragment": ufrag_of(offer)}
        )
    await router.add_ice("teacher", {"candidate": "", "sdpMid": "0"}, target="publisher")
    await asyncio.wait_for(publisher.connected.wait(), 10)

    # subscriber: candidates arrive before the answer (kept until it is applied)
    student = room.subscriber("student")
    offer2 = await router.subscribe("student")
    assert offer2 is not None
    await student.pc.setRemoteDescription(RTCSessionDescription(offer2.sdp, "offer"))
    with host_addresses(LOOPBACK):
        await student.pc.setLocalDescription(await student.pc.createAnswer())
    answer2, candidates2 = without_candidates(student.pc.localDescription.sdp)
    for line in candidates2:
        await router.add_ice(
            "student", {"candidate": line, "sdpMid": "0", "usernameFragment": ufrag_of(answer2)}
        )
    await router.add_ice("student", None, target="subscriber")
    await router.answer("student", answer2)
    await student.until(lambda: student.video_frames >= 5, 10)


async def test_failed_connections_are_torn_down(room: Room) -> None:
    router = room.router
    await router.publish("teacher", await client_offer())
    assert await router.subscribe("student") is not None
    publisher, subscriber = router.publishers["teacher"], router.subscribers["student"]
    pcs = [p.pc for p in (publisher, subscriber)]
    # connections that close by themselves (not through the router) are torn down
    for pc in pcs:
        await pc.close()
    assert router.publishers == {}
    assert router.subscribers == {}
    await router.close()  # lets the background closes finish
    assert router.tracks == []
    assert [pc.connectionState for pc in pcs] == ["closed", "closed"]


async def test_remove_while_negotiating_and_bounded_close(
    room: Room, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    router = room.router
    await router.publish("teacher", await client_offer())
    # an answer being applied when the participant leaves: remove() does not wait for it
    offer = await router.subscribe("student")
    assert offer is not None
    pc = client_pc()
    await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
    with host_addresses(LOOPBACK):
        await pc.setLocalDescription(await pc.createAnswer())
    answering = asyncio.ensure_future(router.answer("student", pc.localDescription.sdp))
    await asyncio.wait_for(router.remove("student"), 5)
    await asyncio.wait((answering,), timeout=5)
    assert answering.done()
    failure = answering.exception()
    assert failure is None or (isinstance(failure, MediaError) and failure.code == "closed")
    await pc.close()

    # a connection that will not close is given up on after close_timeout
    bounded = Router("room-3", on_offer=lambda *_: None, config=RouterConfig(close_timeout=0.2))
    await bounded.publish("teacher", await client_offer())
    publisher = bounded.publishers["teacher"]
    real_close = publisher.close

    async def stuck() -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(publisher, "close", stuck)
    await asyncio.wait_for(bounded.remove("teacher"), 2)
    assert "timed out" in caplog.text
    await real_close()
    await bounded.close()
