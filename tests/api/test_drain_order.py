"""A draining node closes its listener before it tells its clients 1001, so their reconnects
(and any new connection) are refused here and a load balancer sends them to another node."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from starlette.applications import Starlette

from api.server import DrainingServer
from tests.api.serving import listening


class RecordingHub:
    """Stands in for the hub: when the drain starts, tries to connect to the node."""

    def __init__(self) -> None:
        self.port = 0
        self.connect_during_drain: BaseException | None = None
        self.drained = asyncio.Event()

    async def drain(self) -> None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as exc:
            self.connect_during_drain = exc
        else:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        self.drained.set()


async def test_the_listener_is_closed_before_the_hub_drains() -> None:
    app = Starlette()
    hub = RecordingHub()
    app.state.hub = hub
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    server = DrainingServer(config, app)
    async with listening(server) as serving:
        hub.port = server.servers[0].sockets[0].getsockname()[1]
        # The listener accepts before the shutdown...
        _, writer = await asyncio.open_connection("127.0.0.1", hub.port)
        writer.close()
        server.should_exit = True
        async with asyncio.timeout(30):
            await hub.drained.wait()
            await serving
        # ...and refuses once the drain has begun.
        assert isinstance(hub.connect_during_drain, ConnectionRefusedError)
