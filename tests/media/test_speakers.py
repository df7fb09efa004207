"""Active speakers: media/speakers.py without sockets, media/room_voices.py on an event loop,
and a router whose publishers send real aiortc audio (with RFC 6464 levels)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from media.config import RouterConfig
from media.room_voices import MediaState, RoomVoices
from media.router import Router
from media.speakers import ActiveSpeakers
from media.subscriber import Offer
from tests.media.peers import LOOPBACK, ClientPublisher

SPEECH, QUIET, SILENCE = 30, 80, 127  # levels: -30 dBov, -80 dBov, digital silence


def feed(speakers: ActiveSpeakers, pid: str, level: int, start: float, seconds: float) -> float:
    """One packet every 20 ms; returns the time after the last one."""
    now = start
    for _ in range(int(seconds / 0.02)):
        speakers.level(pid, level, now)
        now += 0.02
    return now


def test_speech_starts_within_a_few_hundred_ms_and_pauses_do_not_flicker() -> None:
    speakers = ActiveSpeakers()
    now = feed(speakers, "ann", SPEECH, 0.0, 0.1)
    assert speakers.speaking(now) == []  # 100 ms is a cough, not speech
    now = feed(speakers, "ann", SPEECH, now, 0.3)
    assert speakers.speaking(now) == ["ann"]
    now = feed(speakers, "ann", QUIET, now, 0.1)  # a breath between two words
    assert speakers.speaking(now) == ["ann"]
    now = feed(speakers, "ann", SILENCE, now, 0.6)
    assert speakers.speaking(now) == []


def test_loudest_first_at_most_three_and_silent_when_packets_stop() -> None:
    speakers = ActiveSpeakers()
    for pid, level in (("a", 40), ("b", 10), ("c", 25), ("d", 35)):
        feed(speakers, pid, level, 0.0, 1.0)
    assert speakers.speaking(1.0) == ["b", "c", "d"]
    assert speakers.speaking(1.0 + 0.7) == []  # no packet for 0.7 s: everyone stopped
    speakers.remove("b")
    assert speakers.speaking(1.0) == []


async def test_room_voices_tell_mutes_at_once_and_speakers_as_they_change() -> None:
    told: asyncio.Queue[MediaState] = asyncio.Queue()
    clock = [0.0]
    voices = RoomVoices(told.put_nowait, interval=0.01, clock=lambda: clock[0])
    try:
        level = voices.level_of("ann")
        for _ in range(30):
            level(SPEECH)
        assert await asyncio.wait_for(told.get(), 5) == {"speakers": ["ann"], "muted": []}
        voices.set_muted("bob", True)
        assert told.get_nowait() == {"speakers": ["ann"], "muted": ["bob"]}
        voices.forget("bob")
        assert told.get_nowait() == {"speakers": ["ann"], "muted": []}
        clock[0] = 5.0  # ann's packets stopped
        assert await asyncio.wait_for(told.get(), 5) == {"speakers": [], "muted": []}
        assert voices.state == {"speakers": [], "muted": []}
    finally:
        await voices.close()


@pytest.fixture
async def router() -> AsyncIterator[tuple[Router, asyncio.Queue[MediaState]]]:
    told: asyncio.Queue[MediaState] = asyncio.Queue()

    def on_offer(_pid: str, _offer: Offer) -> None:
        pass

    room = Router(
        "room-voices",
        on_offer=on_offer,
        config=RouterConfig(host_addresses=LOOPBACK),
        on_media_state=told.put_nowait,
    )
    try:
        yield room, told
    finally:
        await asyncio.wait_for(room.close(), 10)


async def _next(told: asyncio.Queue[MediaState], wanted: MediaState) -> None:
    """Wait until the router tells ``wanted`` (it may tell other states first)."""
    async with asyncio.timeout(15):
        while await told.get() != wanted:
            pass


async def test_the_router_hears_who_speaks_and_is_told_who_muted(
    router: tuple[Router, asyncio.Queue[MediaState]],
) -> None:
    room, told = router
    talker = ClientPublisher(room, "talker")
    silent = ClientPublisher(room, "silent", loudness=0)
    try:
        await asyncio.wait_for(talker.publish(), 10)
        await asyncio.wait_for(silent.publish(), 10)
        await _next(told, {"speakers": ["talker"], "muted": []})
        room.set_muted("silent", True)
        await _next(told, {"speakers": ["talker"], "muted": ["silent"]})
        room.set_muted("nobody", True)  # publishes nothing: ignored
        await room.unpublish("talker")
        await _next(told, {"speakers": [], "muted": ["silent"]})
        await room.unpublish("silent")
        await _next(told, {"speakers": [], "muted": []})
    finally:
        await talker.close()
        await silent.close()


async def test_room_voices_repeat_the_speakers_every_second_while_someone_speaks() -> None:
    told: asyncio.Queue[MediaState] = asyncio.Queue()
    clock = [0.0]
    voices = RoomVoices(told.put_nowait, interval=0.01, repeat=1.0, clock=lambda: clock[0])
    try:
        level = voices.level_of("ann")
        for _ in range(30):
            level(SPEECH)
        speaking = {"speakers": ["ann"], "muted": []}
        assert await asyncio.wait_for(told.get(), 5) == speaking
        clock[0] = 0.5
        for _ in range(30):
            level(SPEECH)
        voices.set_muted("ann", False)  # tells nothing new: no repeat before a second
        assert told.empty()
        clock[0] = 1.0
        for _ in range(30):
            level(SPEECH)
        assert await asyncio.wait_for(told.get(), 5) == speaking  # the repeat
        clock[0] = 5.0  # ann's packets stopped: told once, then nothing while nobody speaks
        assert await asyncio.wait_for(told.get(), 5) == {"speakers": [], "muted": []}
        clock[0] = 10.0
        voices.set_muted("bob", True)
        assert told.get_nowait() == {"speakers": [], "muted": ["bob"]}
        assert told.empty()
    finally:
        await voices.close()
