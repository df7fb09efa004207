"""Secure defaults of a production node, over real HTTP and WebSocket.

Security headers on every response (errors too), CORS and WebSocket origins from the
settings, and no secret or token in any log line: a whole class (REST, WebSocket with the
handshake access log on, resume, kick, a signed recording link, refused forgeries) runs with
JSON logs, and the captured log is searched for every secret and token the scenario used.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.api.test_recordings import upload, webm
from tests.cluster.clients import room_token
from tests.conftest import JWT_SECRET, SECRET_KEY, bearer
from tests.integration.cluster import Node, deployment_env, start_node
from tests.reliability.clients import Client, close_all

APP = "https://app.example"
EVIL = "https://evil.example"


@pytest.fixture
async def node(postgres_ready: str, redis_empty: str, tmp_path: Path) -> AsyncIterator[Node]:
    env = {
        "LIVECLASS_ENVIRONMENT": "production",
        **deployment_env(postgres_ready, redis_empty),
        "LIVECLASS_CORS_ORIGINS": f'["{APP}"]',
        "LIVECLASS_LOG_FORMAT": "json",
        "LIVECLASS_WS_ACCESS_LOG": "true",
    }
    async with start_node("secure", env, tmp_path / "secure") as started:
        yield started


def assert_security_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


async def test_a_production_class_leaks_nothing(node: Node) -> None:
    teacher, student = bearer("teacher-1", "instructor"), bearer("s1")
    secrets_used: list[str] = [JWT_SECRET, SECRET_KEY]
    secrets_used += [h["Authorization"].split()[1] for h in (teacher, student)]
    clients: list[Client] = []
    async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
        try:
            created = await http.post("/api/v1/sessions", json={"title": "Safe"}, headers=teacher)
            assert_security_headers(created)
            sid = created.json()["id"]
            await http.post(f"/api/v1/sessions/{sid}/start", headers=teacher)
            for response in (
                await http.get("/api/v1/nowhere"),
                await http.get("/api/v1/sessions", headers={"Authorization": "Bearer x.y.z"}),
                await http.get("/healthz"),
            ):
                assert_security_headers(response)

            # CORS: the configured origin only.
            preflight = {"Access-Control-Request-Method": "POST"}
            ok = await http.options("/api/v1/sessions", headers={"Origin": APP, **preflight})
            assert ok.headers["access-control-allow-origin"] == APP
            evil = await http.options("/api/v1/sessions", headers={"Origin": EVIL, **preflight})
            assert "access-control-allow-origin" not in evil.headers

            # WebSocket origins: the public URL's and the CORS origins.
            host_token = await room_token(http, node.http, sid, teacher)
            student_token = await room_token(http, node.http, sid, student)
            secrets_used += [host_token, student_token]
            refused = await Client.connect(f"{node.ws}?token={student_token}", origin=EVIL)
            clients.append(refused)
            assert await refused.closed() == 4003
            host = await Client.connect(f"{node.ws}?token={host_token}", "host", origin=node.http)
            guest = await Client.connect(f"{node.ws}?token={student_token}", "guest", origin=APP)
            clients += [host, guest]
            welcome = await guest.welcome()
            await host.welcome()
            secrets_used.append(welcome["resume"])
            assert (await guest.request({"type": "chat", "text": "hello"}))["type"] == "ack"
            # Drop and resume: the resume token travels in the URL too.
            guest.connection.transport.abort()
            await guest.closed()
            again = await Client.connect(
                f"{node.ws}?token={student_token}&resume={welcome['resume']}&lastSeq=0",
                "again",
                origin=APP,
            )
            clients.append(again)
            resumed = await again.welcome()
            assert resumed["resumed"] is True
            secrets_used.append(resumed["resume"])

            # A signed recording link, used without a bearer token.
            recording = (await upload(http, sid, teacher, webm())).json()
            link = recording["accessLink"]["url"]
            secrets_used += parse_qs(urlsplit(link).query)["signature"]
            fetched = await http.get(urlsplit(link).path + "?" + urlsplit(link).query)
            assert fetched.status_code == 200
            # Forgeries are refused (and logged as refusals, without the token).
            forged = jwt.encode({"sub": "x"}, "an-attackers-secret-0123456789abcdef")
            secrets_used.append(forged)
            assert (
                await http.get("/api/v1/me/bookings", headers={"Authorization": f"Bearer {forged}"})
            ).status_code == 401
            kick = await host.request(
                {"type": "kick", "target": resumed["participant"]["id"], "reason": "test"}
            )
            assert kick["type"] == "ack"
            assert await again.closed() == 4003
        finally:
            await close_all(clients)
    await node.stop()  # every line is out once the process has exited

    log = "\n".join(node.log)
    assert "websocket joined as participant" in log  # the log was captured
    assert re.search(r"GET /ws\?|/ws\?", log), "the WebSocket access log is on"
    for secret in secrets_used:
        assert secret not in log, f"a secret or token is in the log: {secret[:12]}…"


async def test_development_sign_in_is_refused_in_production(node: Node, tmp_path: Path) -> None:
    # a production node serves no token minting, whatever is asked
    async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
        assert (await http.get("/dev/signin")).status_code == 404
        minted = await http.post(
            "/dev/token", json={"userId": "mallory", "role": "admin", "tenant": "acme"}
        )
        assert minted.status_code == 404
        assert minted.json()["error"]["code"] == "not_found"
    # ...and cannot be told to: a production process with it forced on does not start
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")},
        "LIVECLASS_ENVIRONMENT": "production",
        "LIVECLASS_DEV_SIGNIN": "true",
        "LIVECLASS_JWT_SECRET": JWT_SECRET,
        "LIVECLASS_SECRET_KEY": SECRET_KEY,
        "LIVECLASS_DATA_DIR": str(tmp_path / "forced"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        output, _ = await process.communicate()
    assert process.returncode != 0
    assert "LIVECLASS_DEV_SIGNIN" in output.decode()
