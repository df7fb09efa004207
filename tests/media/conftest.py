"""Every media test must close what it opens: a socket or transport left unclosed (aiortc's
ICE sockets, for instance) fails the test that leaked it.

Python reports those from ``__del__`` as ResourceWarnings, which the suite's warning filter
turns into unraisable exceptions (and the project's config then ignores): the fixture watches
the unraisable hook while the test runs and after a final garbage collection.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiortc import RTCCertificate, RTCDtlsTransport, RTCIceGatherer, RTCIceTransport

from api.services import Services
from api.settings import Settings
from media.capacity import LoadMonitor
from media.config import RouterConfig
from media.recording_worker import RecordingDesk
from media.router import Router
from media.worker import MediaWorker
from rooms.media_registry import MediaRegistry
from signaling.hub import Hub
from tests.media.hub_peers import HubPeer
from tests.media.peers import LOOPBACK, ClientSubscriber, subscribed_router
from tests.signaling.harness import make_hub


@pytest.fixture(autouse=True)
def no_leaked_sockets() -> Iterator[None]:
    leaks: list[str] = []
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, ResourceWarning):
            leaks.append(str(unraisable.exc_value))
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert not leaks, f"left open: {leaks}"


# -- media workers and hub nodes on the test's services -----------------------------------


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    """The recording sweeper runs by hand here (``services.server_recordings.sweep()``), at a
    time the test controls: its workers heartbeat by hand too."""
    return settings_factory(recording_sweep_seconds=3600)


@pytest.fixture
async def start_worker(
    services: Services,
) -> AsyncIterator[Callable[..., Awaitable[MediaWorker]]]:
    """``await start_worker(worker_id, **options)``: a media worker on the test's Redis, on
    loopback ICE, with the test's clock (heartbeats by hand), recording into the test's
    database and data directory, admitting up to its cap (no load measured: pass ``load``
    to measure); stopped after the test."""
    started: list[MediaWorker] = []

    async def start(worker_id: str, **options: Any) -> MediaWorker:
        clock = services.presence._clock
        options.setdefault("recordings", RecordingDesk(services.server_recordings))
        # Placement must not depend on how busy the machine running the tests is: the
        # worker measures nothing (its capacity is its cap) unless a test hands it a monitor.
        options.setdefault(
            "load",
            LoadMonitor(ceiling=options.get("max_subscribers", 150), interval=3600.0),
        )
        worker = MediaWorker(
            worker_id=worker_id,
            bus=services.new_bus(),
            registry=MediaRegistry(services.redis, ttl_seconds=10, clock=clock),
            presence=services.presence,
            router_config=RouterConfig(host_addresses=LOOPBACK),
            heartbeat_interval=3600,
            clock=clock,
            **options,
        )
        await worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        await asyncio.wait_for(worker.stop(), 20)


@pytest.fixture
async def start_hub(services: Services) -> AsyncIterator[Callable[[str], Awaitable[Hub]]]:
    """``await start_hub(node_id)``: a hub node on the test's services; stopped after."""
    started: list[Hub] = []

    async def start(node_id: str) -> Hub:
        hub = make_hub(services, node_id)
        await hub.start()
        started.append(hub)
        return hub

    yield start
    for hub in started:
        await hub.stop()


@pytest.fixture
async def peers() -> AsyncIterator[list[HubPeer]]:
    """Peers the test opens (append them); closed after the test."""
    opened: list[HubPeer] = []
    yield opened
    for peer in opened:
        await asyncio.wait_for(peer.close(), 180)


@pytest.fixture
async def loopback_room() -> AsyncIterator[tuple[Router, dict[str, ClientSubscriber]]]:
    """A loopback router and the subscribers it offers to (`subscribed_router`)."""
    async with subscribed_router() as value:
        yield value


@pytest.fixture
async def dtls() -> AsyncIterator[RTCDtlsTransport]:
    """A DTLS transport that never starts (senders need one), stopped afterwards."""
    transport = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer(iceServers=[])), [RTCCertificate.generateCertificate()]
    )
    yield transport
    await transport.stop()
    await transport.transport.stop()
