"""The session row a join reads (signaling/node.py ``room_row``): a join storm reads it once,
also while no join has opened the room on this node yet; with no join in progress and the room
not open here, it is read afresh."""

from __future__ import annotations

import pytest

from rooms.store.tables import SessionRow
from signaling.hub import Hub
from tests.conftest import NewSession


async def test_joins_in_progress_share_one_read_of_the_row(
    new_session: NewSession, nodes: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = nodes
    sid = (await new_session(start=True))["id"]
    node = a._node
    loads = 0
    load = node._load

    async def counting(session_id: str) -> SessionRow | None:
        nonlocal loads
        loads += 1
        return await load(session_id)

    monkeypatch.setattr(node, "_load", counting)
    with node.entering(sid):
        first = await node.room_row(sid)
        with node.entering(sid):  # a second join, arriving after the first one's read
            assert await node.room_row(sid) is first
    assert loads == 1
    again = await node.room_row(sid)
    assert again is not None
    assert again is not first
    assert loads == 2
