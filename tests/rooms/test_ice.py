"""rooms/ice.py: the ICE servers clients are handed, TURN credentials in coturn's scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from rooms.ice import IceServers, turn_credential


def test_nothing_configured_means_no_ice_servers() -> None:
    assert IceServers().for_user("u1", 1_000.0) == []


def test_turn_credentials_follow_coturns_shared_secret_scheme() -> None:
    servers = IceServers(
        stun_urls=("stun:turn.example.org:3478",),
        turn_urls=(
            "turn:turn.example.org:3478?transport=udp",
            "turns:turn.example.org:443?transport=tcp",
        ),
        turn_secret="s3cret",
        turn_ttl=3600,
    ).for_user("u1", 1_000_000.9)
    assert servers[0] == {"urls": ["stun:turn.example.org:3478"]}
    turn = servers[1]
    assert turn["urls"] == [
        "turn:turn.example.org:3478?transport=udp",
        "turns:turn.example.org:443?transport=tcp",
    ]
    assert turn["username"] == "1003600:u1"  # expiry (Unix seconds), then the user
    expected = base64.b64encode(hmac.new(b"s3cret", b"1003600:u1", hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected == turn_credential("s3cret", "1003600:u1")


def test_turn_needs_its_secret_and_a_sane_lifetime() -> None:
    with pytest.raises(ValueError, match="secret"):
        IceServers(turn_urls=("turn:x:3478",))
    with pytest.raises(ValueError, match="minute"):
        IceServers(turn_urls=("turn:x:3478",), turn_secret="s", turn_ttl=10)
