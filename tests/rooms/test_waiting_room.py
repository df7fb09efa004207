"""The waiting room's contract (``rooms/waiting_room.py``), run against both implementations:
:class:`LocalWaitingRoom` (in process, beside the embedded default's presence) and
:class:`RedisWaitingRoom` on fakeredis and on a real Redis server."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from rooms import waiting_room as module
from rooms.waiting_room import (
    TTL_SECONDS,
    LocalWaitingRoom,
    RedisWaitingRoom,
    Waiter,
    WaitingRoom,
)

SID = "session-1"


@pytest.fixture
def lobby(contract_backend: tuple[str, Redis]) -> WaitingRoom:
    kind, client = contract_backend
    return LocalWaitingRoom() if kind == "local" else RedisWaitingRoom(client)


def waiter(user: str, since: int) -> Waiter:
    return Waiter(f"w-{user}", user, user.title(), "node-a", since)


async def test_students_wait_while_it_is_on_unless_let_in(lobby: WaitingRoom) -> None:
    assert not await lobby.enabled(SID)
    assert not await lobby.must_wait(SID, "sam")
    await lobby.set_enabled(SID, True)
    assert await lobby.enabled(SID)
    assert not await lobby.enabled("other")
    assert await lobby.must_wait(SID, "sam")
    assert await lobby.add(SID, waiter("sam", 1))
    assert [w.user_id for w in await lobby.take(SID, ["w-sam"], let_in=True)] == ["sam"]
    assert not await lobby.must_wait(SID, "sam")
    assert await lobby.must_wait(SID, "sue")
    await lobby.set_enabled(SID, False)
    assert not await lobby.must_wait(SID, "sue")


async def test_the_list_is_longest_waiting_first_and_taken_once(lobby: WaitingRoom) -> None:
    sue, sam, ann = waiter("sue", 3), waiter("sam", 1), waiter("ann", 2)
    for w in (sue, sam, ann):
        assert await lobby.add(SID, w)
    assert await lobby.waiting(SID) == [sam, ann, sue]
    assert await lobby.remove(SID, "w-ann")
    assert not await lobby.remove(SID, "w-ann")
    # Given ids: in their order, each once, the unknown ones left out; refused: not let in.
    assert await lobby.take(SID, ["w-sue", "w-ghost", "w-sue"], let_in=False) == [sue]
    assert await lobby.take(SID, [], let_in=True) == []
    await lobby.set_enabled(SID, True)
    assert await lobby.must_wait(SID, "sue")
    assert await lobby.take(SID, None, let_in=True) == [sam]
    assert await lobby.waiting(SID) == []
    assert await lobby.take(SID, None, let_in=True) == []


async def test_the_list_holds_at_most_max_waiting(
    lobby: WaitingRoom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "MAX_WAITING", 2)
    assert await lobby.add(SID, waiter("a", 1))
    assert await lobby.add(SID, waiter("b", 2))
    assert not await lobby.add(SID, waiter("c", 3))
    assert await lobby.add("other", waiter("c", 3))


async def test_the_local_waiting_room_expires_as_the_keys_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(module, "monotonic", lambda: now[0])
    lobby = LocalWaitingRoom()
    await lobby.set_enabled(SID, True)
    await lobby.add(SID, waiter("sam", 1))
    await lobby.take(SID, None, let_in=True)
    await lobby.add(SID, waiter("sue", 2))
    now[0] += TTL_SECONDS - 1
    assert await lobby.enabled(SID)
    assert not await lobby.must_wait(SID, "sam")
    assert len(await lobby.waiting(SID)) == 1
    now[0] += 1
    assert not await lobby.enabled(SID)
    assert await lobby.waiting(SID) == []
    await lobby.set_enabled(SID, True)
    assert await lobby.must_wait(SID, "sam")  # the let-in list expired with the rest
