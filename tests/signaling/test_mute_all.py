"""Mute-all and the microphone lock (issue 17), over WebSocket and REST, on two nodes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from api.settings import Settings
from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.signaling.harness import reply
from tests.signaling.test_hub import join


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(chat_rate_per_second=1000, chat_burst=1000)


async def test_mute_all_and_the_lock(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    s1 = await join(client, b, sid, people.student)
    s2 = await join(client, a, sid, people.student2)
    lock_url = f"/api/v1/sessions/{sid}/mic-lock"

    await s1.send({"type": "mute-all", "rid": "no"})
    assert (await reply(s1, "no"))["code"] == "forbidden"
    await teacher.send({"type": "mute-all", "rid": "m"})
    assert (await reply(teacher, "m"))["type"] == "ack"
    for c in (teacher, s1, s2):
        muted = await c.next("mute-all")
        assert muted["lock"] is False
        assert muted["by"]["name"] == "Tina Teacher"
    assert (await client.get(lock_url, headers=people.student)).json() == {"locked": False}

    await teacher.send({"type": "mute-all", "lock": True, "rid": "ml"})
    assert (await reply(teacher, "ml"))["type"] == "ack"
    assert (await s2.next("mute-all"))["lock"] is True
    assert (await client.get(lock_url, headers=people.student)).json() == {"locked": True}

    await teacher.send({"type": "mic-lock", "locked": False, "rid": "u"})
    assert (await reply(teacher, "u"))["type"] == "ack"
    assert (await s1.next("mic-lock"))["locked"] is False
    assert (await client.get(lock_url, headers=people.teacher)).json() == {"locked": False}

    # REST: the host only.
    refused = await client.post(f"/api/v1/sessions/{sid}/mute-all", headers=people.student)
    assert refused.status_code == 403
    done = await client.post(
        f"/api/v1/sessions/{sid}/mute-all", json={"lock": True}, headers=people.teacher
    )
    assert done.json() == {"locked": True}
    assert (await s1.next("mute-all"))["lock"] is True
    put = await client.put(lock_url, json={"locked": False}, headers=people.teacher)
    assert put.json() == {"locked": False}
    assert (await s2.until(lambda m: m["type"] == "mic-lock"))["locked"] is False
    assert (
        await client.put(lock_url, json={"locked": True}, headers=people.student)
    ).status_code == 403
