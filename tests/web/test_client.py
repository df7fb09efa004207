"""liveclass.js on its own, in real Chromium against a real server: its MessagePack codec
agrees with the server's (Python msgpack) both ways, requests are acknowledged, errors and
timeouts reject, and a dropped connection comes back by itself with a resume (same
participant, no missed chat)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest

from tests.web.browser import chromium, open_page, server

MESSAGE: dict[str, Any] = {
    "type": "chat",
    "text": "héllo ✓ " + "x" * 300,
    "n": [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1],
    "neg": [-1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**53) + 1],
    "float": [0.5, -1.25, 1e300],
    "nested": {"a": None, "b": True, "c": False, "d": [{"e": "f"}] * 20},
    "wide": {f"k{i}": i for i in range(40)},
}

IMPORT = "import('/static/liveclass.js')"


async def dev_token(http: httpx.AsyncClient, sub: str, role: str) -> dict[str, str]:
    response = await http.post(
        "/dev/token", json={"sub": sub, "name": sub.upper(), "role": role, "tenant": "acme"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def live_class(http: httpx.AsyncClient, room: str) -> tuple[dict[str, str], dict[str, str]]:
    """A live session named ``room`` by teacher t1; the bearers of t1 and of student s1."""
    teacher = await dev_token(http, "t1", "instructor")
    student = await dev_token(http, "s1", "student")
    created = await http.post(
        "/api/v1/sessions", json={"title": room.title(), "roomName": room}, headers=teacher
    )
    assert created.status_code == 201, created.text
    assert (await http.post(f"/api/v1/sessions/{room}/start", headers=teacher)).is_success
    return teacher, student


async def test_msgpack_agrees_with_the_server(tmp_path: Path) -> None:
    async with server(tmp_path) as node, chromium() as browser:
        _, page = await open_page(browser, node)
        await page.goto("/signin.html")
        encoded = await page.evaluate(
            f"async (m) => Array.from((await {IMPORT}).msgpackEncode(m))", MESSAGE
        )
        assert msgpack.unpackb(bytes(encoded)) == MESSAGE
        decoded = await page.evaluate(
            f"async (b) => (await {IMPORT}).msgpackDecode(new Uint8Array(b))",
            list(msgpack.packb(MESSAGE)),
        )
        assert decoded == MESSAGE
        # Malformed input is an exception, never a wrong value.
        error = await page.evaluate(
            f"""async () => {{
                const lc = await {IMPORT};
                try {{ lc.msgpackDecode(new Uint8Array([0x92, 0x01])); return null; }}
                catch (e) {{ return e.name; }}
            }}"""
        )
        assert error == "RangeError"
        delays = await page.evaluate(
            f"""async () => {{
                const lc = await {IMPORT};
                return [0, 1, 2, 3, 10, 30].map((n) => [
                    lc.backoffDelay(n, {{ random: () => 0 }}),
                    lc.backoffDelay(n, {{ random: () => 0.999999 }}),
                ]);
            }}"""
        )
        assert [round(lo) for lo, _ in delays] == [250, 500, 1000, 2000, 7500, 7500]
        assert [round(hi) for _, hi in delays] == [500, 1000, 2000, 4000, 15000, 15000]


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_requests_and_resume(tmp_path: Path, codec: str) -> None:
    async with (
        server(tmp_path) as node,
        chromium() as browser,
        httpx.AsyncClient(base_url=node.http, timeout=30) as http,
    ):
        teacher, student = await live_class(http, "resume")

        async def room_token() -> str:
            response = await http.post("/api/v1/sessions/resume/token", headers=student)
            assert response.status_code == 200, response.text
            token: str = response.json()["token"]
            return token

        _, page = await open_page(browser, node)
        await page.goto("/signin.html")
        await page.evaluate(
            f"""async ([token, codec]) => {{
                const lc = await {IMPORT};
                const client = new lc.LiveclassClient({{
                    url: `ws://${{location.host}}/ws`, token, codec,
                    reconnect: {{ base: 200, max: 1000 }},
                }});
                window.t = {{ client, welcomes: [], states: [], chats: [] }};
                client.on("welcome", (m) => window.t.welcomes.push(m));
                client.on("state", (e) => window.t.states.push(e.state));
                client.on("chat", (m) => window.t.chats.push(m.text));
                await client.connect();
            }}""",
            [await room_token(), codec],
        )
        ack = await page.evaluate("window.t.client.chat('one')")
        assert ack["type"] == "ack"
        assert ack["seq"] >= 1
        refused = await page.evaluate(
            "window.t.client.end().then(() => null, (e) => [e.name, e.code])"
        )
        assert refused == ["LiveclassError", "forbidden"]
        timed_out = await page.evaluate(
            "window.t.client.request({type: 'ping'}, {timeout: 0}).then(() => null, e => e.code)"
        )
        assert timed_out == "timeout"

        # The connection drops (as a network change would): the client resumes by itself.
        await page.evaluate("window.t.client.ws.close(4999)")
        await page.wait_for_function(
            "() => window.t.welcomes.length === 2 && window.t.client.state === 'open'"
        )
        welcomes = await page.evaluate("window.t.welcomes")
        assert welcomes[1]["resumed"] is True
        assert welcomes[1]["participant"]["id"] == welcomes[0]["participant"]["id"]
        assert "reconnecting" in await page.evaluate("window.t.states")
        await page.evaluate("window.t.client.chat('two')")
        await page.wait_for_function("() => window.t.chats.includes('two')")
        assert await page.evaluate("window.t.chats") == ["one", "two"]

        # Leaving is final: no reconnect, the seat is free at once.
        await page.evaluate("window.t.client.leave()")
        assert await page.evaluate("window.t.client.state") == "closed"
        participants = await http.get("/api/v1/sessions/resume/participants", headers=teacher)
        assert participants.json()["activeCount"] == 0


async def test_a_resume_after_a_long_gap_reloads_history_and_never_loops(tmp_path: Path) -> None:
    env = {
        "LIVECLASS_WS_OUTBOX_FRAMES": "16",  # the server replays at most 8 missed messages
        "LIVECLASS_CHAT_RATE_PER_SECOND": "1000",
        "LIVECLASS_CHAT_BURST": "1000",
    }
    async with (
        server(tmp_path, env) as node,
        chromium() as browser,
        httpx.AsyncClient(base_url=node.http, timeout=30) as http,
    ):
        teacher, student = await live_class(http, "gap")
        token = (await http.post("/api/v1/sessions/gap/token", headers=student)).json()["token"]
        _, page = await open_page(browser, node)
        await page.goto("/signin.html")
        await page.evaluate(
            f"""async (token) => {{
                const lc = await {IMPORT};
                const client = new lc.LiveclassClient({{
                    url: `ws://${{location.host}}/ws`, token,
                    reconnect: {{ base: 200, max: 1000 }},
                }});
                window.t = {{ client, welcomes: [], reloads: [], closes: [] }};
                client.on("welcome", (m) => window.t.welcomes.push(m));
                client.on("reload", (r) => window.t.reloads.push(r));
                client.on("reconnecting", (e) => window.t.closes.push(e.code));
                await client.connect();
            }}""",
            token,
        )
        # The connection drops and stays away (the token source waits) while 40 messages pass.
        await page.evaluate(
            """() => {
                const client = window.t.client;
                window.t.gate = new Promise((resolve) => { window.t.open = resolve; });
                client.tokenSource = async () => { await window.t.gate; return window.t.token; };
                client.ws.close(4999);
            }"""
        )
        await page.evaluate("(token) => { window.t.token = token; }", token)
        for i in range(40):
            posted = await http.post(
                "/api/v1/sessions/gap/messages", json={"text": f"m{i}"}, headers=teacher
            )
            assert posted.status_code == 201
        last = posted.json()["seq"]
        await page.evaluate("window.t.open()")
        await page.wait_for_function(
            "() => window.t.welcomes.length === 2 && window.t.client.state === 'open'"
        )
        assert await page.evaluate("window.t.reloads") == [
            {"after": (await page.evaluate("window.t.welcomes[0].seq")), "through": last}
        ]
        assert await page.evaluate("window.t.welcomes[1].resumed") is True
        assert await page.evaluate("window.t.client.lastSeq") == last
        # Live chat flows, and the next drop resumes without a gap: no loop, no 4008.
        ack = await page.evaluate("window.t.client.chat('after')")
        assert ack["type"] == "ack"
        await page.evaluate("window.t.client.ws.close(4999)")
        await page.wait_for_function(
            "() => window.t.welcomes.length === 3 && window.t.client.state === 'open'"
        )
        assert len(await page.evaluate("window.t.reloads")) == 1
        assert 4008 not in await page.evaluate("window.t.closes")


async def test_sfu_media_answers_each_server_connection_on_its_own_peer_connection(
    tmp_path: Path,
) -> None:
    """SfuMedia (the browser's SFU side) echoes each offer's ``offerId`` in its answer,
    renegotiates on the same peer connection while the offers name the same server
    connection, and answers an offer of another one (a failover's) on a new peer connection,
    also when it comes after a ``restart``. The "SFU" here is two peer connections in the
    page; the signalling client is a stand-in that records what is sent."""
    async with server(tmp_path) as node, chromium() as browser:
        _, page = await open_page(browser, node)
        await page.goto("/signin.html")
        result = await page.evaluate(
            f"""async () => {{
                const lc = await {IMPORT};
                const handlers = new Map();
                const answers = [];
                let answered = () => {{}};
                const client = {{
                    on(type, fn) {{ handlers.set(type, fn); return () => handlers.delete(type); }},
                    send(m) {{ if (m.kind === "answer") {{ answers.push(m); answered(); }} }},
                }};
                // The n-th answer, once sent (bounded: null after 20 s).
                const answer = (n) => new Promise((resolve) => {{
                    const timer = setTimeout(() => resolve(null), 20000);
                    answered = () => {{
                        if (answers.length >= n) {{ clearTimeout(timer); resolve(answers[n - 1]); }}
                    }};
                    answered();
                }});
                const media = new lc.SfuMedia(client);
                const sfu = (m) => handlers.get("signal")({{ type: "signal", from: "sfu", ...m }});
                const offer = async (pc, offerId, connectionId) => {{
                    pc.addTransceiver("video", {{ direction: "sendonly" }});
                    await pc.setLocalDescription(await pc.createOffer());
                    sfu({{ kind: "offer", sdp: pc.localDescription.sdp, offerId, connectionId }});
                }};
                const one = new RTCPeerConnection(), two = new RTCPeerConnection();
                await offer(one, "o1", "c1");
                const a1 = await answer(1);
                const first = media.sub;
                await offer(one, "o2", "c1");
                const a2 = await answer(2);
                const renegotiated = media.sub === first;
                await offer(two, "o3", "c2");
                const a3 = await answer(3);
                const replaced = media.sub !== first && first.signalingState === "closed";
                const second = media.sub;
                sfu({{ kind: "restart", reason: "worker_lost" }});
                const three = new RTCPeerConnection();
                await offer(three, "o4", "c3");
                const a4 = await answer(4);
                const afterRestart = media.sub !== second && media.sub !== null;
                media.close();
                for (const pc of [one, two, three]) pc.close();
                return {{
                    ids: [a1, a2, a3, a4].map((a) => a && a.offerId),
                    renegotiated, replaced, afterRestart,
                }};
            }}"""
        )
    assert result == {
        "ids": ["o1", "o2", "o3", "o4"],
        "renegotiated": True,
        "replaced": True,
        "afterRestart": True,
    }
