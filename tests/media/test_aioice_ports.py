"""media/aioice_ports.py: ICE's UDP sockets inside a configured port range."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from importlib.metadata import version

import aioice.ice
import pytest
from aiortc import RTCPeerConnection

from media.aioice_ports import AIOICE_VERSION, udp_port_range
from media.aiortc_hooks import host_addresses
from media.config import RouterConfig, parse_port_range
from media.publisher import Publisher
from media.subscriber import Subscriber
from tests.media.peers import (
    LOOPBACK,
    ClientPublisher,
    ClientSubscriber,
    client_pc,
    subscribed_router,
)


def _ports(sdp: str) -> set[int]:
    return {int(m) for m in re.findall(r"a=candidate:\S+ \d \S+ \d+ \S+ (\d+) typ host", sdp)}


def test_the_seam_is_the_one_it_was_written_for() -> None:
    assert version("aioice") == AIOICE_VERSION
    assert type(vars(aioice.ice)["asyncio"]).__name__ == "_AsyncioAsAioiceSeesIt"


def test_port_ranges_parse_or_say_why() -> None:
    assert parse_port_range("40000-40009") == range(40000, 40010)
    assert parse_port_range("40000") == range(40000, 40001)
    for bad in ("40000-", "abc", "50000-40000", "80-90", "60000-70000"):
        with pytest.raises(ValueError, match="port range"):
            parse_port_range(bad)


async def test_a_router_binds_every_connection_inside_the_range() -> None:
    base = random.randrange(41000, 59000, 100)
    ports = range(base, base + 40)
    config = RouterConfig(host_addresses=LOOPBACK, udp_ports=ports)
    async with subscribed_router("room-ports", config) as (router, subscribers):
        publisher = ClientPublisher(router, "teacher")
        try:
            await asyncio.wait_for(publisher.publish(), 10)
            for i in range(12):
                subscribers[f"s{i}"] = ClientSubscriber(router, f"s{i}")
                await asyncio.wait_for(subscribers[f"s{i}"].join(), 10)
            used: set[int] = set()
            connections: list[Publisher | Subscriber] = [
                *router.publications.values(),
                *router.subscribers.values(),
            ]
            for connection in connections:
                bound = _ports(connection.pc.localDescription.sdp)
                assert bound, "every connection has a host candidate"
                used |= bound
            assert used <= set(ports), sorted(used - set(ports))
            assert len(used) == 13  # one bundled socket per connection
            # media flows through them
            await subscribers["s11"].until(lambda: subscribers["s11"].video_frames >= 10, 15)
        finally:
            await publisher.close()


async def test_a_full_range_is_said_and_outside_it_nothing_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = random.randrange(41000, 59000, 100)
    caplog.set_level(logging.INFO, logger="aioice.ice")
    pcs: list[RTCPeerConnection] = []
    try:
        with host_addresses(LOOPBACK), udp_port_range(range(base, base + 2)):
            for _ in range(3):
                pc = client_pc()
                pcs.append(pc)
                pc.addTransceiver("audio", direction="recvonly")
                await pc.setLocalDescription(await pc.createOffer())
        bound = [_ports(pc.localDescription.sdp) for pc in pcs]
        assert bound[0] | bound[1] == {base, base + 1}
        assert bound[2] == set()  # nothing left in the range: no candidate, and it says why
        assert f"no free UDP port on 127.0.0.1 in {base}-{base + 1}" in caplog.text
        with host_addresses(LOOPBACK):  # no range: any port, as aioice always did
            pc = client_pc()
            pcs.append(pc)
            pc.addTransceiver("audio", direction="recvonly")
            await pc.setLocalDescription(await pc.createOffer())
        assert len(_ports(pc.localDescription.sdp)) == 1
    finally:
        for pc in pcs:
            await pc.close()
