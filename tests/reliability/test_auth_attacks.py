"""Auth attacks over real HTTP and WebSocket connections to ``liveclass serve``.

Bearer tokens: forged signature, expired, ``alg: none``, HS256 signed with the identity
provider's RSA public key (key confusion, on a node in JWKS mode), another tenant's user.
Room tokens: forged, expired, unsigned, for another tenant's room, a bearer token in its place.
A student cannot do host actions over REST nor over the WebSocket; a kicked user stays out,
with the token they had and with a new one. Every refusal has a positive control.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rooms.model import RoomRole
from rooms.tokens import ROOM_AUDIENCE, RoomGrant, RoomTokens
from tests.api.test_auth import _claims, _unsigned, jwks_url, rsa_keys  # noqa: F401
from tests.cluster.clients import room_token
from tests.conftest import JWT_SECRET, SECRET_KEY, bearer
from tests.integration.cluster import Node, deployment_env, start_node
from tests.integration.test_two_nodes import live_session
from tests.reliability.clients import Client, close_all


@pytest.fixture
async def node(postgres_ready: str, redis_empty: str, tmp_path: Path) -> AsyncIterator[Node]:
    env = {
        **deployment_env(postgres_ready, redis_empty),
    }
    async with start_node("auth", env, tmp_path / "auth") as started:
        yield started


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _ws_refusal(node: Node, token: str) -> tuple[int, str]:
    client = await Client.connect(f"{node.ws}?token={token}")
    code = await client.closed()
    errors = client.of("error")
    await client.close()
    return code, str(errors[0]["code"]) if errors else ""


async def test_forged_and_stolen_tokens_are_refused(node: Node) -> None:
    me = "/api/v1/me/bookings"
    async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
        control = await http.get(me, headers=bearer("s1"))
        assert control.status_code == 200, "\n".join(node.log[-30:])
        attacks = {
            "forged": _auth(jwt.encode(_claims(), "an-attackers-secret-0123456789abcdef")),
            "expired": bearer("s1", ttl=-120),
            "alg none": _auth(_unsigned({"alg": "none", "typ": "JWT"}, _claims())),
            "room token as bearer": _auth(
                RoomTokens(SECRET_KEY).mint(
                    RoomGrant.for_role(
                        session_id="x", tenant="acme", user_id="s1", name="S", role=RoomRole.HOST
                    )
                )[0]
            ),
        }
        for name, headers in attacks.items():
            response = await http.get(me, headers=headers)
            assert response.status_code == 401, name
            assert response.json()["error"]["code"] in ("invalid_token", "token_expired"), name
            assert response.headers["www-authenticate"].startswith("Bearer")

        sid = await live_session(http, node, 10)
        # Another tenant: the session does not exist for them, nor its room.
        outsider = bearer("s9", tenant="globex")
        assert (await http.get(f"/api/v1/sessions/{sid}", headers=outsider)).status_code == 404
        assert (
            await http.post(f"/api/v1/sessions/{sid}/token", headers=outsider)
        ).status_code == 404

        # Room tokens over the WebSocket.
        good = await room_token(http, node.http, sid, bearer("s1"))
        accepted = await Client.connect(f"{node.ws}?token={good}")
        await accepted.welcome()
        await accepted.close()
        grant = RoomGrant.for_role(
            session_id=sid, tenant="acme", user_id="s1", name="S", role=RoomRole.HOST
        )
        other_tenant = RoomGrant.for_role(
            session_id=sid, tenant="globex", user_id="s9", name="O", role=RoomRole.GUEST
        )
        now = int(time.time())
        unsigned = _unsigned(
            {"alg": "none", "typ": "JWT"},
            {
                "aud": ROOM_AUDIENCE,
                "sub": "s1",
                "sid": sid,
                "role": "host",
                "tenant": "acme",
                "exp": now + 600,
                "grants": {"moderate": True},
            },
        )
        refusals = {
            "forged": (RoomTokens("not-the-server-secret-0123456789abcdef").mint(grant)[0], 4001),
            "expired": (RoomTokens(SECRET_KEY, clock=lambda: now - 3600).mint(grant)[0], 4001),
            "alg none": (unsigned, 4001),
            "bearer as room token": (bearer("s1")["Authorization"].split()[1], 4001),
            "another tenant's room": (RoomTokens(SECRET_KEY).mint(other_tenant)[0], 4004),
        }
        for name, (token, expected) in refusals.items():
            code, _ = await _ws_refusal(node, token)
            assert code == expected, name


async def test_students_cannot_act_as_host_and_kicked_users_stay_out(node: Node) -> None:
    teacher, student = bearer("teacher-1", "instructor"), bearer("s1")
    clients: list[Client] = []
    async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
        sid = await live_session(http, node, 10)
        try:
            host = await Client.connect(
                f"{node.ws}?token={await room_token(http, node.http, sid, teacher)}", "host"
            )
            token = await room_token(http, node.http, sid, student)
            guest = await Client.connect(f"{node.ws}?token={token}", "guest")
            other = await Client.connect(
                f"{node.ws}?token={await room_token(http, node.http, sid, bearer('s2'))}", "s2"
            )
            clients += [host, guest, other]
            welcomes = [await c.welcome() for c in clients]
            assert welcomes[1]["grants"]["moderate"] is False
            target = welcomes[2]["participant"]["id"]

            # REST host actions: 403, the session unchanged.
            for method, path in (
                ("POST", "end"),
                ("POST", "cancel"),
                ("GET", "attendance"),
                ("GET", "enrollments"),
                ("PATCH", ""),
                ("DELETE", ""),
            ):
                url = f"/api/v1/sessions/{sid}/{path}".rstrip("/")
                response = await http.request(method, url, headers=student, json={"title": "x"})
                assert response.status_code == 403, (method, path, response.text)
            assert (await http.get(f"/api/v1/sessions/{sid}", headers=student)).json()[
                "status"
            ] == "live"

            # WebSocket host actions: refused, the connection and the others unaffected.
            for message in (
                {"type": "kick", "target": target},
                {"type": "mute", "target": target, "kind": "audio"},
                {"type": "allow", "target": target, "publish": True},
                {"type": "end"},
            ):
                answer = await guest.request(message)
                assert answer["type"] == "error", message
                assert answer["code"] == "forbidden", answer
            assert (await guest.request({"type": "hand"}))["type"] == "ack"
            assert other.is_open
            assert not other.of("mute-request")

            # The host kicks s2: closed with 4003, and stays out.
            kicked = await host.request({"type": "kick", "target": target, "reason": "spam"})
            assert kicked["type"] == "ack", kicked
            assert await other.closed() == 4003
            again = await http.post(f"/api/v1/sessions/{sid}/token", headers=bearer("s2"))
            assert again.status_code == 403
            assert again.json()["error"]["code"] == "banned"
            minted = RoomTokens(SECRET_KEY).mint(
                RoomGrant.for_role(
                    session_id=sid, tenant="acme", user_id="s2", name="S2", role=RoomRole.GUEST
                )
            )[0]
            code, error = await _ws_refusal(node, minted)
            assert (code, error) == (4003, "banned")
            rest = await http.post(f"/api/v1/sessions/{sid}/join", headers=bearer("s2"))
            assert rest.status_code == 403
        finally:
            await close_all(clients)


@pytest.fixture
async def jwks_node(jwks_url: str, tmp_path: Path) -> AsyncIterator[Node]:  # noqa: F811
    env = {"LIVECLASS_JWKS_URL": jwks_url, "LIVECLASS_SECRET_KEY": SECRET_KEY}
    async with start_node("jwks", env, tmp_path / "jwks") as started:
        yield started


async def test_key_confusion_on_a_jwks_node(
    jwks_node: Node,
    rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],  # noqa: F811
) -> None:
    key, attacker = rsa_keys
    me = "/api/v1/me/bookings"
    good = jwt.encode(_claims(), key, algorithm="RS256", headers={"kid": "idp-1"})
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT refuses to HMAC with a PEM key, so the attacker signs by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "idp-1"}).encode())
    body = b64(json.dumps(_claims()).encode())
    mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{head}.{body}.{b64(mac)}"
    async with httpx.AsyncClient(base_url=jwks_node.http, timeout=30) as http:
        assert (await http.get(me, headers=_auth(good))).status_code == 200
        for name, token in {
            "HS256 with the public key": confused,
            "another RSA key": jwt.encode(
                _claims(), attacker, algorithm="RS256", headers={"kid": "idp-1"}
            ),
            "the shared-secret mode's token": jwt.encode(_claims(), JWT_SECRET),
            "alg none": _unsigned({"alg": "none", "kid": "idp-1"}, _claims()),
        }.items():
            response = await http.get(me, headers=_auth(token))
            assert response.status_code == 401, name
