"""A node shut down gracefully while chat flows: its clients get 1001, resume on the other
node and end up with every acknowledged message (replayed after ``lastSeq``, then live),
nobody sees them leave; the node killed with ``kill -9`` case is
``tests/integration/test_two_nodes.py::test_a_killed_node_leaves_presence_within_15_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from tests.cluster.clients import room_token
from tests.conftest import bearer
from tests.integration.cluster import Node
from tests.integration.test_two_nodes import live_session
from tests.reliability.clients import Client, close_all


@pytest.fixture
def node_env() -> dict[str, str]:
    return {"LIVECLASS_CHAT_RATE_PER_SECOND": "50", "LIVECLASS_CHAT_BURST": "50"}


async def test_graceful_shutdown_mid_chat_loses_nothing(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    teacher = bearer("teacher-1", "instructor")
    clients: list[Client] = []
    async with httpx.AsyncClient(timeout=30) as http:
        sid = await live_session(http, a, 20)
        try:
            host = await Client.connect(
                f"{a.ws}?token={await room_token(http, a.http, sid, teacher)}", "host"
            )
            await host.welcome()
            moving: list[tuple[Client, dict[str, str], dict[str, object]]] = []
            for i in range(5):
                who = bearer(f"s{i}")
                c = await Client.connect(
                    f"{b.ws}?token={await room_token(http, a.http, sid, who)}", f"s{i}"
                )
                moving.append((c, who, await c.welcome()))
            clients += [host] + [c for c, _, _ in moving]

            acked: list[str] = []
            stop = asyncio.Event()

            async def chatter() -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    ack = await host.request({"type": "chat", "text": f"m{n}"})
                    assert ack["type"] == "ack", ack
                    acked.append(str(ack["id"]))
                    await asyncio.sleep(0.02)  # a teacher typing fast, not a benchmark

            talking = asyncio.create_task(chatter())
            await host.until(lambda _: len(acked) >= 5)
            await b.stop()  # SIGTERM: drain
            for c, _, _ in moving:
                assert await c.closed() == 1001
            resumed: list[Client] = []
            for c, who, welcome in moving:
                seqs = [int(m["seq"]) for m in c.of("chat")]
                last = max(seqs) if seqs else int(welcome["seq"])  # type: ignore[call-overload]
                token = await room_token(http, a.http, sid, who)
                again = await Client.connect(
                    f"{a.ws}?token={token}&resume={welcome['resume']}&lastSeq={last}", c.name
                )
                clients.append(again)
                w = await again.welcome()
                assert w["resumed"] is True
                assert w["participant"]["id"] == welcome["participant"]["id"]  # type: ignore[index]
                resumed.append(again)
            stop.set()
            await talking
            for (old, _, _), new in zip(moving, resumed, strict=True):
                await new.until(
                    lambda n, old=old: set(acked) <= old.chat_ids() | n.chat_ids()  # type: ignore[misc]
                )
            # Nobody saw them leave or join again.
            assert not any(p["left"] for p in host.of("presence"))
        finally:
            with contextlib.suppress(Exception):
                stop.set()
            await close_all(clients)
