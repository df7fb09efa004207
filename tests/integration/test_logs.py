"""JSON logs of a real ``liveclass serve``: request ids on HTTP lines, connection ids on
WebSocket lines, and never a token (uvicorn logs WebSocket URLs with their query string)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.conftest import JWT_SECRET, SECRET_KEY, bearer
from tests.integration.cluster import start_node


def _lines(log: list[str]) -> list[dict[str, Any]]:
    parsed = []
    for line in log:
        if line.startswith("{"):
            parsed.append(json.loads(line))
    return parsed


async def test_json_logs_with_ids_and_without_tokens(tmp_path: Path) -> None:
    env = {
        "LIVECLASS_JWT_SECRET": JWT_SECRET,
        "LIVECLASS_SECRET_KEY": SECRET_KEY,
        "LIVECLASS_LOG_FORMAT": "json",
    }
    teacher = bearer("t1", "instructor")
    async with start_node("logs", env, tmp_path / "data") as node:
        async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
            created = await http.post(
                "/api/v1/sessions",
                json={"title": "Logs"},
                headers={**teacher, "X-Request-Id": "req-logs-1"},
            )
            assert created.headers["x-request-id"] == "req-logs-1"
            sid = created.json()["id"]
            await http.post(f"/api/v1/sessions/{sid}/start", headers=teacher)
            token = (await http.post(f"/api/v1/sessions/{sid}/token", headers=teacher)).json()[
                "token"
            ]
            async with connect(f"{node.ws}?token={token}") as ws:
                await ws.recv()  # welcome
        await node.stop()  # every line is out once the process has exited

    lines = _lines(node.log)
    assert lines, node.log[-20:]
    everything = "\n".join(node.log)
    assert token not in everything
    assert teacher["Authorization"].split()[1] not in everything
    assert SECRET_KEY not in everything
    assert any(line.get("requestId") == "req-logs-1" for line in lines)
    ws_lines = [line for line in lines if "connectionId" in line]
    assert any("websocket joined as participant" in line["message"] for line in ws_lines)
    assert any("websocket closed" in line["message"] for line in ws_lines)
    assert len({line["connectionId"] for line in ws_lines}) == 1
