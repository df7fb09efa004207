"""A real coturn (Debian's ``turnserver``) on loopback, for the TURN tests.

Configured the way README "Media: TURN" configures production, except that it listens on a
free loopback port, over TCP only (``no-udp``: a school network that blocks UDP), relays to
loopback peers (the SFU under test) and keeps everything in the test's directory. Ready once
it logs that its TCP listener is open: an event, not a sleep. ``scripts/ensure-coturn.sh``
installs the package.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.cluster import free_port

__all__ = ["TurnServer", "coturn"]

TURNSERVER = "/usr/bin/turnserver"


@dataclass
class TurnServer:
    port: int
    secret: str
    log: list[str] = field(default_factory=list)

    @property
    def tcp_url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=tcp"


@asynccontextmanager
async def coturn(directory: Path, secret: str = "turn-test-secret") -> AsyncIterator[TurnServer]:
    if shutil.which(TURNSERVER) is None:
        pytest.fail(f"{TURNSERVER} is missing: run scripts/ensure-coturn.sh (Debian's coturn)")
    server = TurnServer(port=free_port(), secret=secret)
    config = _write_config(directory, server)
    process = await asyncio.create_subprocess_exec(
        TURNSERVER,
        "-c",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    ready = asyncio.Event()

    async def read() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            server.log.append(line)
            if "TCP listener opened on" in line and f":{server.port}" in line:
                ready.set()

    reader = asyncio.ensure_future(read())
    try:
        try:
            await asyncio.wait_for(ready.wait(), 30)
        except TimeoutError:
            pytest.fail("coturn did not open its listener:\n" + "\n".join(server.log[-40:]))
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        await reader


def _write_config(directory: Path, server: TurnServer) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    relay = free_port()
    config = directory / "turnserver.conf"
    config.write_text(
        "\n".join(
            [
                f"listening-port={server.port}",
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"min-port={relay}",
                f"max-port={relay + 50}",
                "no-udp",
                "no-tls",
                "no-dtls",
                "use-auth-secret",
                f"static-auth-secret={server.secret}",
                "realm=liveclass.test",
                "fingerprint",
                "allow-loopback-peers",
                "no-multicast-peers",
                "no-cli",
                "no-rfc5780",
                "no-stun-backward-compatibility",
                "log-file=stdout",
                "simple-log",
                "verbose",  # logs "TCP listener opened on", which tells us it is ready
                f"pidfile={directory / 'turnserver.pid'}",
                f"userdb={directory / 'turndb'}",
                "",
            ]
        )
    )
    return config
