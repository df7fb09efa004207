"""Every limit, enforced over real connections with its documented error or close code.

One ``liveclass serve`` with small limits: WebSocket frame size (``frame_too_large``, and
1009 past uvicorn's cap), SDP size (``sdp_too_large``), chat and message rates
(``rate_limited``; repeated: 4029), one connection per user (the older one: 4000),
connections per address (4029 ``too_many_connections``), JSON body size (413
``payload_too_large``), recording upload size (413) and type (415).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_recordings import upload, webm
from tests.cluster.clients import room_token
from tests.conftest import bearer
from tests.integration.cluster import Node, deployment_env, start_node
from tests.integration.test_two_nodes import live_session
from tests.reliability.clients import Client, close_all

FRAME = 2048
SDP = 1024


@pytest.fixture
async def node(postgres_ready: str, redis_empty: str, tmp_path: Path) -> AsyncIterator[Node]:
    env = {
        **deployment_env(postgres_ready, redis_empty),
        "LIVECLASS_WS_MAX_FRAME_BYTES": str(FRAME),
        "LIVECLASS_WS_MAX_SDP_BYTES": str(SDP),
        "LIVECLASS_CHAT_RATE_PER_SECOND": "0.01",
        "LIVECLASS_CHAT_BURST": "2",
        "LIVECLASS_WS_MESSAGE_RATE_PER_SECOND": "0.01",
        "LIVECLASS_WS_MESSAGE_BURST": "20",
        "LIVECLASS_WS_MAX_CONNECTIONS_PER_IP": "4",
        "LIVECLASS_MAX_BODY_BYTES": "4096",
        "LIVECLASS_RECORDING_MAX_BYTES": "4096",
    }
    async with start_node("limits", env, tmp_path / "limits") as started:
        yield started


async def test_every_limit_is_enforced(node: Node) -> None:
    teacher = bearer("teacher-1", "instructor")
    clients: list[Client] = []
    async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
        sid = await live_session(http, node, 10)
        try:
            s1 = await Client.connect(
                f"{node.ws}?token={await room_token(http, node.http, sid, bearer('s1'))}", "s1"
            )
            clients.append(s1)
            await s1.welcome()

            # Frame and SDP size: an error, the connection stays.
            await s1.send_raw(json.dumps({"type": "chat", "text": "x", "pad": "y" * FRAME}))
            await s1.until(lambda c: any(e["code"] == "frame_too_large" for e in c.of("error")))
            sdp = await s1.request(
                {"type": "signal", "to": "sfu", "kind": "offer", "sdp": "v" * (SDP + 1)}
            )
            assert sdp["code"] == "sdp_too_large", sdp
            # Chat rate: a burst of 2, then refused.
            answers = [await s1.request({"type": "chat", "text": f"c{i}"}) for i in range(3)]
            assert [a["type"] for a in answers] == ["ack", "ack", "error"]
            assert answers[2]["code"] == "rate_limited"
            # Message rate: past the burst every message is refused; ten refusals close 4029.
            for i in range(40):
                if not s1.is_open:
                    break
                await s1.send_raw(json.dumps({"type": "ping", "ts": i}))
            assert await s1.closed() == 4029
            assert any(e["code"] == "rate_limited" for e in s1.of("error"))

            # One connection per user: the newer replaces the older (4000).
            token = await room_token(http, node.http, sid, bearer("s2"))
            first = await Client.connect(f"{node.ws}?token={token}", "first")
            clients.append(first)
            await first.welcome()
            second = await Client.connect(f"{node.ws}?token={token}", "second")
            clients.append(second)
            await second.welcome()
            assert await first.closed() == 4000

            # Connections per address: 4 (second, and three more), the fifth is refused.
            for i in range(3, 6):
                c = await Client.connect(
                    f"{node.ws}?token={await room_token(http, node.http, sid, bearer(f's{i}'))}"
                )
                clients.append(c)
                await c.welcome()
            extra = await Client.connect(
                f"{node.ws}?token={await room_token(http, node.http, sid, bearer('s9'))}"
            )
            clients.append(extra)
            assert await extra.closed() == 4029
            assert extra.of("error")[0]["code"] == "too_many_connections"

            # A frame over uvicorn's cap (4 x the frame limit, at least 1 MiB): 1009.
            await second.send_raw("z" * ((1 << 20) + 1))
            assert await second.closed() == 1009

            # REST bodies.
            body = await http.post(
                "/api/v1/sessions", headers=teacher, json={"title": "t", "description": "d" * 5000}
            )
            assert body.status_code == 413
            assert body.json()["error"]["code"] == "payload_too_large"
            too_big = await upload(http, sid, teacher, webm(b"\0" * 8192))
            assert too_big.status_code == 413
            assert too_big.json()["error"]["code"] == "payload_too_large"
            not_media = await upload(
                http, sid, teacher, b"#!/bin/sh\necho pwned\n" * 10, filename="x.webm"
            )
            assert not_media.status_code == 415
            assert not_media.json()["error"]["code"] == "unsupported_media_type"
            fits = await upload(http, sid, teacher, webm(b"\0" * 1000))
            assert fits.status_code == 201, fits.text
        finally:
            await close_all(clients)
