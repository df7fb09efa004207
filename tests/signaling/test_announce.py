"""Presence announcements are coalesced per room like a group commit, in order, and each
caller learns the fate of the event that carried its change."""

from __future__ import annotations

import asyncio

import pytest

from rooms.model import RoomRole
from rooms.presence import PresenceEntry
from signaling.announce import PresenceAnnouncer


def entry(pid: str) -> PresenceEntry:
    return PresenceEntry(pid, f"u-{pid}", pid.title(), RoomRole.GUEST, "ws", "n1", 0)


class Bus:
    def __init__(self) -> None:
        self.events: list[tuple[str, list[str], list[str]]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None
        #: The joined ids of every publish as it begins (before it waits on the gate).
        self.entered: asyncio.Queue[list[str]] = asyncio.Queue()

    async def publish(
        self, sid: str, joined: list[PresenceEntry], left: list[PresenceEntry]
    ) -> None:
        self.entered.put_nowait([e.participant_id for e in joined])
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        self.events.append(
            (sid, [e.participant_id for e in joined], [e.participant_id for e in left])
        )


async def test_a_storm_of_joins_is_published_in_few_events() -> None:
    bus = Bus()
    announcer = PresenceAnnouncer(bus.publish)
    await asyncio.gather(*(announcer.announce("s1", [entry(f"p{i}")], []) for i in range(100)))
    assert len(bus.events) < 5
    published = [pid for _, joined, _ in bus.events for pid in joined]
    assert published == [f"p{i}" for i in range(100)]  # every one, once, in order


async def test_each_caller_returns_once_its_change_is_published() -> None:
    bus = Bus()
    announcer = PresenceAnnouncer(bus.publish)
    bus.gate.clear()
    first = announcer.enqueue("s1", [entry("a")], [])
    assert await asyncio.wait_for(bus.entered.get(), 5) == ["a"]  # in flight
    second = announcer.enqueue("s1", [entry("b")], [])
    assert not first.done()
    assert not second.done()
    assert bus.events == []
    bus.gate.set()
    await asyncio.gather(first, second)
    assert bus.events == [("s1", ["a"], []), ("s1", ["b"], [])]


async def test_a_join_and_its_leave_never_share_an_event() -> None:
    bus = Bus()
    announcer = PresenceAnnouncer(bus.publish)
    bus.gate.clear()
    queued = [
        announcer.enqueue("s1", [entry("x")], []),
        announcer.enqueue("s1", [entry("a")], []),
        announcer.enqueue("s1", [], [entry("a")]),  # a's leave: after a's join
        announcer.enqueue("s1", [entry("b")], []),
        announcer.enqueue("s2", [entry("c")], []),  # another room: its own events
    ]
    bus.gate.set()
    await asyncio.gather(*queued)
    s1 = [(j, left) for sid, j, left in bus.events if sid == "s1"]
    assert s1 == [(["x", "a"], []), (["b"], ["a"])]
    assert [(sid, j) for sid, j, _ in bus.events if sid == "s2"] == [("s2", ["c"])]


async def test_a_failed_publish_fails_its_callers_only() -> None:
    bus = Bus()
    announcer = PresenceAnnouncer(bus.publish)
    bus.gate.clear()
    bus.fail = ConnectionError("redis went away")
    first = announcer.enqueue("s1", [entry("a")], [])
    assert await asyncio.wait_for(bus.entered.get(), 5) == ["a"]  # in flight
    second = announcer.enqueue("s1", [entry("b")], [])
    bus.gate.set()
    with pytest.raises(ConnectionError):
        await first
    bus.fail = None
    with pytest.raises(ConnectionError):
        await second  # its batch was published while Redis was still failing
    await announcer.announce("s1", [entry("c")], [])  # and the next one goes through
    assert bus.events == [("s1", ["c"], [])]


async def test_stop_cancels_what_was_not_published() -> None:
    bus = Bus()
    announcer = PresenceAnnouncer(bus.publish)
    bus.gate.clear()
    waiting = announcer.enqueue("s1", [entry("a")], [])
    assert await asyncio.wait_for(bus.entered.get(), 5) == ["a"]  # in flight
    await announcer.stop()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    bus.gate.set()
    await announcer.announce("s1", [entry("b")], [])
    assert bus.events == [("s1", ["b"], [])]
