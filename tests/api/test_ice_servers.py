"""ICE servers in the room token answer: TURN with short-lived credentials for the caller."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from pydantic import ValidationError

from api.settings import Settings
from rooms.ice import turn_credential
from tests.conftest import NewSession, People

TURN = ["turn:turn.example.org:3478?transport=tcp", "turns:turn.example.org:443?transport=tcp"]


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(
        turn_urls=TURN,
        turn_secret="turn-secret",
        turn_ttl_seconds=3600,
        ice_stun_urls=["stun:turn.example.org:3478"],
    )


async def test_the_room_token_answer_carries_turn_credentials_for_the_caller(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    response = await client.post(f"/api/v1/sessions/{session['id']}/token", headers=people.student)
    assert response.status_code == 200, response.text
    stun, turn = response.json()["iceServers"]
    assert stun == {"urls": ["stun:turn.example.org:3478"], "username": None, "credential": None}
    assert turn["urls"] == TURN
    expiry, user = turn["username"].split(":")
    assert user == "student-1"
    assert 3590 <= int(expiry) - time.time() <= 3600
    assert turn["credential"] == turn_credential("turn-secret", turn["username"])


def test_settings_refuse_turn_without_its_secret_and_bad_port_ranges(
    settings_factory: Callable[..., Settings],
) -> None:
    with pytest.raises(ValidationError, match="secret"):
        settings_factory(turn_urls=TURN)
    with pytest.raises(ValidationError, match="port range"):
        settings_factory(media_udp_ports="9-x")
    assert settings_factory(media_udp_ports="40000-40099").router_config().udp_ports == range(
        40000, 40100
    )
