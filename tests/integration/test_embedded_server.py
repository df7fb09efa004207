"""The README's run command: `liveclass serve` with nothing configured serves a whole class
on its embedded defaults (SQLite file, in-process Redis, generated secrets)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx

from signaling.client import RoomClient
from tests.integration.cluster import start_node
from tests.media.hub_peers import HubPeer, room_clients


def cli_token(data_dir: Path, sub: str, role: str) -> dict[str, str]:
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "token",
            "--sub",
            sub,
            "--name",
            sub.title(),
            "--role",
            role,
            "--tenant",
            "acme",
        ],
        env={"LIVECLASS_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


async def publish_and_receive(
    http: httpx.AsyncClient, ws_url: str, teacher: dict[str, str], student: dict[str, str]
) -> None:
    """The in-process media worker carries the teacher's camera to a student."""
    tokens = [
        (await http.post("/api/v1/sessions/algebra-1/token", headers=who)).json()["token"]
        for who in (teacher, student)
    ]
    async with room_clients(f"{ws_url}?token={tokens[0]}", f"{ws_url}?token={tokens[1]}") as (
        one,
        two,
    ):
        publisher, subscriber = HubPeer(one), HubPeer(two)
        try:
            await asyncio.wait_for(publisher.publish(), 90)
            await subscriber.until(
                lambda: subscriber.video_frames >= 5 and subscriber.audio_frames >= 5, 90
            )
        finally:
            await publisher.close()
            await subscriber.close()


async def test_serves_a_class_with_nothing_configured(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with start_node("embedded", {}, data) as node:
        assert any("embedded SQLite" in line for line in node.log)
        assert any("fakeredis" in line for line in node.log)
        assert any("media worker" in line and "runs in this process" in line for line in node.log)
        teacher = cli_token(data, "t1", "instructor")
        student = cli_token(data, "s1", "student")
        async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
            assert (await http.get("/readyz")).json()["checks"] == {"database": "ok", "redis": "ok"}
            created = await http.post(
                "/api/v1/sessions",
                json={"title": "Algebra I", "roomName": "algebra-1"},
                headers=teacher,
            )
            assert created.status_code == 201, created.text
            assert (
                await http.post("/api/v1/sessions/algebra-1/start", headers=teacher)
            ).status_code == 200
            try:
                await publish_and_receive(http, node.ws, teacher, student)
            except BaseException:
                print("\n".join(node.log[-120:]))  # the server's side of a failure
                raise
            token = (await http.post("/api/v1/sessions/algebra-1/token", headers=student)).json()
            sam = RoomClient(node.ws, token["token"], name="s1")
            try:
                welcome = await sam.join(within=60)
                assert welcome["participant"]["name"] == "S1"
                # the ack and Sam's own chat back, whatever presence changes (the media
                # peers leaving) come first
                assert await sam.chat("hi", within=60) is not None
                await sam.until(lambda c: "hi" in {m.get("text") for m in c.of("chat")}, 60)
            finally:
                await sam.close()
            ended = await http.post("/api/v1/sessions/algebra-1/end", headers=teacher)
            assert ended.json()["status"] == "ended"
    assert (data / "liveclass.db").is_file()
    assert (data / "secret-key").is_file()
