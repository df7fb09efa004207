"""The heartbeat renews a room's entries in chunks and still closes whoever was removed."""

from __future__ import annotations

import httpx
import pytest

from api.services import Services
from signaling import close_codes, presence_upkeep
from tests.conftest import NewSession, People
from tests.signaling.harness import join, make_hub


async def test_the_heartbeat_renews_in_chunks_and_closes_the_removed(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(presence_upkeep, "REFRESH_CHUNK", 1)
    hub = make_hub(services, "solo")
    await hub.start()
    try:
        sid = (await new_session(start=True))["id"]
        clients = [
            await join(client, hub, sid, who)
            for who in (people.teacher, people.student, people.student2)
        ]
        pids = [c.welcome["participant"]["id"] for c in clients]
        presence = hub._node.presence
        renew = presence.refresh
        calls: list[list[str]] = []

        async def recorded(session_id: str, chunk: list[str], ttl: float) -> list[str]:
            calls.append(list(chunk))
            return await renew(session_id, chunk, ttl)

        monkeypatch.setattr(presence, "refresh", recorded)
        # Removed behind this node's back: only the heartbeat can notice, in the last chunk.
        await presence.ban(sid, "student-2")
        await hub._heartbeat()
        assert sorted(p for chunk in calls for p in chunk) == sorted(pids)
        assert max(len(chunk) for chunk in calls) == 1
        assert await clients[2].closed() == close_codes.FORBIDDEN
        assert not clients[1].transport.closed.done()
    finally:
        await hub.stop()
