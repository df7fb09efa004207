"""Janus (Debian's ``janus`` package, VideoRoom plugin): the media bench's reference SFU.

:func:`run_janus` starts ``/usr/bin/janus`` with a configuration of its own, written to a
temporary folder (``/etc/janus`` is never read): the VideoRoom plugin and the WebSocket
transport only (every other plugin, transport, event handler and logger is left out by
giving Janus folders that hold just those two), the WebSocket API and the Admin API off
except ``ws``, IPv6 off, no STUN/TURN, no session timeout. Janus runs in a network namespace
the bench makes for it (:func:`bench.servers.netns.private_host`): its ICE (libnice) never
gathers loopback, and load only ever goes to loopback or to such namespaces. Its API and media
are on the namespace's address, and the bench's peers offer this side of the link
(:attr:`JanusServer.peer_address`). Install Janus with ``liveclass-bench setup --janus``
(:func:`janus_setup`: ``apt-get install janus``; Debian's package also enables a system
service that would listen on every interface with ``/etc/janus``'s defaults, HTTP on 8088 and
WebSockets on 8188: the setup disables it, the bench runs its own process).

:class:`JanusClient` is one WebSocket to that API (``janus-protocol``): one session, a handle
per peer, requests matched to their answers by transaction. The bench uses it as a browser
would use janus.js: a publisher ``join``\\ s a room and ``publish``\\ es with an offer; a
subscriber ``join``\\ s as ``subscriber`` to the publisher's feed, gets an offer and
``start``\\ s with its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.servers.netns import private_host
from bench.servers.spawn import ServerProcess, free_port, spawn

__all__ = [
    "JANUS_BINARY",
    "JanusClient",
    "JanusError",
    "JanusServer",
    "janus_setup",
    "run_janus",
    "write_config",
]

JANUS_BINARY = "/usr/bin/janus"
_LIBS = Path("/usr/lib/x86_64-linux-gnu/janus")
_PLUGIN = "libjanus_videoroom.so"
_TRANSPORT = "libjanus_websockets.so"
_READY = "JANUS WebSockets transport plugin initialized"


class JanusError(RuntimeError):
    """Janus answered a request with an error, or is not installed."""


@dataclass
class JanusServer:
    process: ServerProcess
    ws_url: str
    #: What the bench's peers offer as their host candidates: this side of the link to
    #: Janus's namespace.
    peer_address: str
    #: The bench's end of the veth link to Janus's namespace (where Janus's datagrams pass).
    link: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid


def janus_setup() -> None:
    """Install Debian's ``janus`` (apt-get, as root or through sudo) and keep its system
    service off; nothing to do when it is installed."""
    if shutil.which(JANUS_BINARY) is None:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        apt = ["apt-get", "install", "-y", "--no-install-recommends", "janus"]
        subprocess.run([*sudo, "env", "DEBIAN_FRONTEND=noninteractive", *apt], check=True)
    if shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run([*sudo, "systemctl", "disable", "--now", "janus.service"], check=False)


def _libs() -> Path:
    for candidate in (_LIBS, *Path("/usr/lib").glob("*/janus")):
        if (candidate / "plugins" / _PLUGIN).exists():
            return candidate
    raise JanusError("Janus is not installed: run `liveclass-bench setup --janus`")


def write_config(folder: Path, *, ws_port: int, ws_ip: str, rtp_ports: tuple[int, int]) -> Path:
    """Janus's configuration in ``folder``; returns the main file's path."""
    libs = _libs()
    for kind, name in (("plugins", _PLUGIN), ("transports", _TRANSPORT)):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        (folder / kind / name).symlink_to(libs / kind / name)
    for kind in ("events", "loggers"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
    main = folder / "janus.jcfg"
    main.write_text(
        f"""general: {{
  configs_folder = "{folder}"
  plugins_folder = "{folder / "plugins"}"
  transports_folder = "{folder / "transports"}"
  events_folder = "{folder / "events"}"
  loggers_folder = "{folder / "loggers"}"
  debug_level = 4
  session_timeout = 0
}}
media: {{
  ipv6 = false
  rtp_port_range = "{rtp_ports[0]}-{rtp_ports[1]}"
}}
nat: {{
  nice_debug = false
}}
plugins: {{ }}
transports: {{ }}
events: {{ broadcast = false }}
"""
    )
    (folder / "janus.transport.websockets.jcfg").write_text(
        f"""general: {{
  json = "plain"
  ws = true
  ws_port = {ws_port}
  ws_ip = "{ws_ip}"
  wss = false
}}
admin: {{ admin_ws = false  admin_wss = false }}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: { }\n")
    return main


@asynccontextmanager
async def run_janus(cores: list[int] | None = None) -> AsyncIterator[JanusServer]:
    """Janus in a network namespace of its own, pinned to ``cores``; stopped (SIGTERM) and
    the namespace removed on exit."""
    if shutil.which(JANUS_BINARY) is None:
        raise JanusError("Janus is not installed: run `liveclass-bench setup --janus`")
    with tempfile.TemporaryDirectory(prefix="liveclass-janus-") as tmp:
        async with private_host("janus") as host:
            port = free_port()
            main = write_config(
                Path(tmp), ws_port=port, ws_ip=host.address, rtp_ports=(30000, 39999)
            )
            argv = [*host.run_prefix, JANUS_BINARY, "-F", tmp, "-C", str(main), "--disable-colors"]
            async with spawn("janus", argv, port=port, ready=_READY, cores=cores) as process:
                yield JanusServer(
                    process, f"ws://{host.address}:{port}", host.peer_address, host.link
                )


class JanusClient:
    """One session on the Janus WebSocket API; ``await close()`` when done."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.session = 0

    @classmethod
    async def open(cls, url: str, within: float = 10.0) -> JanusClient:
        ws = await connect(
            url,
            subprotocols=["janus-protocol"],  # type: ignore[list-item]
            open_timeout=within,
            ping_interval=None,
            max_size=2**22,
            compression=None,
        )
        client = cls(ws)
        created = await client._call({"janus": "create"}, within)
        client.session = int(created["data"]["id"])
        return client

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self._ws:
                message = json.loads(raw)
                if message.get("janus") == "ack":
                    continue  # the answer to an asynchronous request follows as an event
                future = self._waiting.pop(str(message.get("transaction")), None)
                if future is not None and not future.done():
                    future.set_result(message)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(JanusError("the Janus connection closed"))

    async def _call(self, request: dict[str, Any], within: float) -> dict[str, Any]:
        transaction = f"t{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        body = {**request, "transaction": transaction}
        if self.session:
            body["session_id"] = self.session
        await self._ws.send(json.dumps(body))
        async with asyncio.timeout(within):
            answer: dict[str, Any] = await future
        if answer.get("janus") == "error":
            raise JanusError(str(answer.get("error")))
        return answer

    async def attach(self, within: float = 10.0) -> int:
        """A new VideoRoom handle's id."""
        answer = await self._call({"janus": "attach", "plugin": "janus.plugin.videoroom"}, within)
        return int(answer["data"]["id"])

    async def message(
        self,
        handle: int,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
        within: float = 20.0,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A plugin request: (the plugin's answer data, its JSEP if any)."""
        request: dict[str, Any] = {"janus": "message", "handle_id": handle, "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        answer = await self._call(request, within)
        data = answer.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(f"{data.get('error_code')}: {data['error']}")
        return data, answer.get("jsep")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), 5)
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
