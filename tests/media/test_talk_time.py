"""Talk time from the SFU to the analytics (issue 17): a router hears a seated student's real
aiortc audio (RFC 6464 levels), its speakers updates go over the bus to the hubs, and the
node holding the student counts and writes their talk seconds; a silent student gets none."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from api.services import Services
from media.config import RouterConfig
from media.room_voices import MediaState
from media.router import Router
from media.subscriber import Offer
from media.worker_outbox import speakers_message
from rooms.bus_events import RoomMessage
from rooms.futures import cancel_and_wait
from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.media.peers import LOOPBACK, ClientPublisher
from tests.signaling.harness import class_of_three


def naming(pid: str, *, speaking: bool) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "speakers" and (pid in m["speakers"]) == speaking


async def test_the_sfu_hearing_a_student_gives_them_talk_seconds(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    nodes: tuple[Hub, Hub],
    services: Services,
) -> None:
    sid = (await new_session(start=True))["id"]
    _, s1, s2 = await class_of_three(client, nodes, sid, people)  # s1 on node b
    sam = s1.welcome["participant"]["id"]
    told: asyncio.Queue[MediaState] = asyncio.Queue()
    bus = services.new_bus()

    async def forward() -> None:  # what the media worker does with its router's updates
        while True:
            message = speakers_message(await told.get())
            await bus.publish(RoomMessage(sid, message, "worker-test"))

    def on_offer(_pid: str, _offer: Offer) -> None:
        pass

    room = Router(
        sid,
        on_offer=on_offer,
        config=RouterConfig(host_addresses=LOOPBACK),
        on_media_state=told.put_nowait,
    )
    forwarder = asyncio.get_running_loop().create_task(forward())
    talker = ClientPublisher(room, sam)
    try:
        await asyncio.wait_for(talker.publish(), 10)
        async with asyncio.timeout(15):
            await s1.until(naming(sam, speaking=True))
            await s2.until(naming(sam, speaking=True))
            await s1.until(naming(sam, speaking=True))  # the repeat, a second later
        await room.unpublish(sam)
        async with asyncio.timeout(15):
            await s1.until(naming(sam, speaking=False))
    finally:
        await cancel_and_wait(forwarder)
        await talker.close()
        await asyncio.wait_for(room.close(), 10)
        await bus.close()
    for hub in nodes:
        await hub.talk.flush()

    response = await client.get(f"/api/v1/sessions/{sid}/analytics", headers=people.teacher)
    rows = {r["userId"]: r for r in response.json()["perStudent"]}
    assert rows["student-1"]["talkSeconds"] >= 1.0
    assert rows["student-2"]["talkSeconds"] == 0
