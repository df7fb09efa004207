"""Mute-all and the microphone lock (issue 17), over WebSocket and REST, on two nodes."""

from __future__ import annotations

import httpx

from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.signaling.harness import class_of_three, fast_chat, reply

pytestmark = fast_chat


async def test_mute_all_and_the_lock(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    sid = (await new_session(start=True))["id"]
    teacher, s1, s2 = await class_of_three(client, nodes, sid, people)
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
