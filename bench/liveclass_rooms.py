"""Setting up liveclass rooms over its REST API, as a platform would.

For every room: an instructor creates a free group session (capacity = the room's students),
starts it, and every simulated user fetches a room token with its own bearer token
(``POST /sessions/{id}/token``). The client URLs are ``<ws base>/ws?token=...``. Cleanup ends
the sessions (``POST /sessions/{id}/end``), which closes any connection still open.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from bench.tokens import Minter

__all__ = ["MAX_SEATS", "LiveclassRooms", "ws_base"]

MAX_SEATS = 500
TENANT = "bench"


def ws_base(http_url: str) -> str:
    """``http://host:port`` → ``ws://host:port/ws``."""
    base = http_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/ws"
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + "/ws"
    raise ValueError(f"not an http(s) URL: {http_url!r}")


@dataclass
class LiveclassRooms:
    http_url: str
    minter: Minter
    run_id: str
    parallel: int = 16
    sessions: list[tuple[str, str]] = field(default_factory=list)  # (session id, host bearer)

    async def prepare(self, rooms: int, clients: int) -> list[list[str]]:
        """Create, start and fetch tokens for ``rooms`` rooms of ``clients`` (host included);
        returns every client's WebSocket URL."""
        students = clients - 1
        if students > MAX_SEATS:
            raise ValueError(f"a liveclass room seats at most {MAX_SEATS} students")
        gate = asyncio.Semaphore(self.parallel)
        base = ws_base(self.http_url)
        limits = httpx.Limits(max_connections=self.parallel)
        async with httpx.AsyncClient(base_url=self.http_url, timeout=60, limits=limits) as http:

            async def token(session_id: str, sub: str, role: str) -> str:
                async with gate:
                    bearer = await self.minter.bearer(sub=sub, name=sub, role=role, tenant=TENANT)
                    response = await http.post(
                        f"/api/v1/sessions/{session_id}/token",
                        headers={"Authorization": f"Bearer {bearer}"},
                    )
                response.raise_for_status()
                return f"{base}?token={quote(str(response.json()['token']))}"

            urls: list[list[str]] = []
            for room in range(rooms):
                host_sub = f"bench-{self.run_id}-t{room}"
                host = await self.minter.bearer(
                    sub=host_sub, name=f"Host {room}", role="instructor", tenant=TENANT
                )
                headers = {"Authorization": f"Bearer {host}"}
                created = await http.post(
                    "/api/v1/sessions",
                    json={
                        "title": f"bench {self.run_id} room {room}",
                        "roomName": f"bench-{self.run_id}-{room}",
                        "maxParticipants": max(1, students),
                        "sessionType": "group",
                    },
                    headers=headers,
                )
                created.raise_for_status()
                session_id = str(created.json()["id"])
                started = await http.post(f"/api/v1/sessions/{session_id}/start", headers=headers)
                started.raise_for_status()
                self.sessions.append((session_id, host))
                room_urls = await asyncio.gather(
                    token(session_id, host_sub, "instructor"),
                    *(
                        token(session_id, f"bench-{self.run_id}-s{room}-{i}", "student")
                        for i in range(students)
                    ),
                )
                urls.append(list(room_urls))
        return urls

    async def cleanup(self) -> None:
        """End the sessions this run created (best effort)."""
        async with httpx.AsyncClient(base_url=self.http_url, timeout=30) as http:
            for session_id, host in self.sessions:
                with contextlib.suppress(httpx.HTTPError):
                    await http.post(
                        f"/api/v1/sessions/{session_id}/end",
                        headers={"Authorization": f"Bearer {host}"},
                    )
        self.sessions.clear()
