"""TURN against a real coturn (tests/coturn.py), with the credentials liveclass hands out:
allocated with a fresh one, refused once it expired or when signed with another secret."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from rooms.ice import IceServers
from tests.coturn import TurnServer, coturn


async def _allocate(server: TurnServer, username: str, credential: str) -> tuple[str, int]:
    transport, _ = await asyncio.wait_for(
        create_turn_endpoint(
            asyncio.DatagramProtocol,
            ("127.0.0.1", server.port),
            username=username,
            password=credential,
            transport="tcp",
        ),
        15,
    )
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


async def test_coturn_accepts_fresh_credentials_and_refuses_expired_ones(tmp_path: Path) -> None:
    async with coturn(tmp_path / "coturn") as server:
        ice = IceServers(turn_urls=(server.tcp_url,), turn_secret=server.secret, turn_ttl=60)
        fresh = ice.for_user("u1", time.time())[0]
        relayed = await _allocate(server, fresh["username"], fresh["credential"])
        assert relayed[0] == "127.0.0.1"

        expired = ice.for_user("u1", time.time() - 120)[0]  # expired a minute ago
        with pytest.raises(stun.TransactionFailed) as refused:
            await _allocate(server, expired["username"], expired["credential"])
        assert refused.value.response.error_code == 401

        forged = IceServers(turn_urls=(server.tcp_url,), turn_secret="another").for_user(
            "u1", time.time()
        )[0]
        with pytest.raises(stun.TransactionFailed) as refused:
            await _allocate(server, forged["username"], forged["credential"])
        assert refused.value.response.error_code == 401
