"""The WebSocket door and HTTP headers of a real server: origins, per-address caps,
subprotocols, security headers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import JWT_SECRET, SECRET_KEY, bearer
from tests.integration.cluster import start_node


async def closed_with(url: str, **kwargs: object) -> tuple[int, list[dict[str, object]]]:
    """Connect and read until the server closes; the close code and what it sent."""
    received: list[dict[str, object]] = []
    async with connect(url, **kwargs) as ws:  # type: ignore[arg-type]
        try:
            while True:
                received.append(json.loads(await ws.recv()))
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else -1), received


async def test_the_websocket_door(tmp_path: Path) -> None:
    env = {
        "LIVECLASS_ENVIRONMENT": "production",
        "LIVECLASS_JWT_SECRET": JWT_SECRET,
        "LIVECLASS_SECRET_KEY": SECRET_KEY,
        "LIVECLASS_WS_MAX_CONNECTIONS_PER_IP": "2",
    }
    async with start_node("edge", env, tmp_path) as node:
        # Origins: only the public URL's own origin in production.
        code, sent = await closed_with(node.ws, origin="https://evil.example")
        assert code == 4003
        assert sent[0]["code"] == "origin_not_allowed"
        code, sent = await closed_with(f"{node.ws}?token=x", origin=node.http)
        assert code == 4001  # past the origin check, refused for the token
        # Non-browser clients send no Origin header.
        code, _ = await closed_with(f"{node.ws}?token=x")
        assert code == 4001
        # Subprotocols: only ours.
        code, sent = await closed_with(node.ws, subprotocols=["mqtt"])
        assert code == 1002
        assert sent[0]["code"] == "unsupported_subprotocol"
        async with httpx.AsyncClient(base_url=node.http) as http:
            response = await http.get("/healthz")
            # At most two connections from one address at once.
            teacher = bearer("teacher-1", "instructor")
            sid = (
                await http.post("/api/v1/sessions", json={"title": "Door"}, headers=teacher)
            ).json()["id"]
            await http.post(f"/api/v1/sessions/{sid}/start", headers=teacher)
            tokens = [
                (await http.post(f"/api/v1/sessions/{sid}/token", headers=bearer(f"s{i}"))).json()[
                    "token"
                ]
                for i in range(3)
            ]
        async with connect(f"{node.ws}?token={tokens[0]}") as one:
            await one.recv()
            async with connect(f"{node.ws}?token={tokens[1]}") as two:
                await two.recv()
                code, sent = await closed_with(f"{node.ws}?token={tokens[2]}")
                assert code == 4029
                assert sent[0]["code"] == "too_many_connections"

        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "strict-transport-security" not in headers  # plain http public URL
