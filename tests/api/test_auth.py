"""Bearer authentication against the running app, on both backends.

HS256 with the shared secret (the suite's default settings) and RS256 through a JWKS document
(a ``file://`` URL to a key set this module generates). Every refusal is 401 with the JSON error
shape and ``WWW-Authenticate: Bearer``; every test has a positive control on the same endpoint,
so a server that refused everything would fail here too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from jwt.warnings import InsecureKeyLengthWarning
from pydantic import ValidationError

from api.app import create_app
from api.auth import Authenticator
from api.settings import Settings
from rooms.errors import Unauthorized
from rooms.identity import UserRole
from tests.api.helpers import own_client
from tests.conftest import JWT_SECRET, FakeClock, People, bearer

ME = "/api/v1/me/bookings"  # any authenticated caller may read it


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "student-1",
        "name": "Sam Student",
        "role": "student",
        "tenant": "acme",
        "iat": now,
        "exp": now + 3600,
    }
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def _hs256(claims: dict[str, Any], secret: str = JWT_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(signature)}"


def _hmac_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def assert_401(response: httpx.Response, code: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert set(error) >= {"code", "message"}
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error


# -- HS256 (the suite's default settings) -----------------------------------------------------


async def test_a_valid_token_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.get(ME, headers=_hs256(_claims()))
    assert response.status_code == 200, response.text
    assert response.json()["bookings"] == []


async def test_missing_header_is_401(client: httpx.AsyncClient) -> None:
    assert_401(await client.get(ME), "missing_token")


@pytest.mark.parametrize(
    "value",
    [
        "Basic c3R1ZGVudDpwYXNzd29yZA==",
        "Token abc",
        "Bearer",
        "Bearer    ",
        "bearer-but-not-really",
    ],
)
async def test_non_bearer_schemes_are_401(client: httpx.AsyncClient, value: str) -> None:
    assert_401(await client.get(ME, headers={"Authorization": value}), "invalid_token")


async def test_the_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    token = jwt.encode(_claims(), JWT_SECRET, algorithm="HS256")
    response = await client.get(ME, headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "x" * 5000, "🙂.🙂.🙂"]
)
async def test_garbage_tokens_are_401(client: httpx.AsyncClient, token: str) -> None:
    # Sent as raw bytes: header values need not be ASCII on the wire.
    headers = {b"Authorization": f"Bearer {token}".encode()}
    assert_401(await client.get(ME, headers=headers), "invalid_token")


async def test_expired_token_is_401(client: httpx.AsyncClient) -> None:
    assert_401(await client.get(ME, headers=bearer("student-1", ttl=-3600)), "token_expired")


async def test_expiry_has_a_small_leeway(client: httpx.AsyncClient) -> None:
    """Clocks drift: a token expired 10 s ago still passes (30 s leeway), 2 minutes does not."""
    assert (await client.get(ME, headers=bearer("student-1", ttl=-10))).status_code == 200
    assert_401(await client.get(ME, headers=bearer("student-1", ttl=-120)), "token_expired")


async def test_wrong_secret_is_401(client: httpx.AsyncClient) -> None:
    headers = bearer("student-1", secret="another-platform-secret-0123456789")
    assert_401(await client.get(ME, headers=headers), "invalid_token")


async def test_tampered_claims_are_401(client: httpx.AsyncClient) -> None:
    token = jwt.encode(_claims(), JWT_SECRET, algorithm="HS256")
    header, _, signature = token.split(".")
    forged = _b64(json.dumps(_claims(role="admin")).encode())
    response = await client.get(
        ME, headers={"Authorization": f"Bearer {header}.{forged}.{signature}"}
    )
    assert_401(response, "invalid_token")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_401(client: httpx.AsyncClient, alg: str) -> None:
    token = _unsigned({"alg": alg, "typ": "JWT"}, _claims())
    assert_401(await client.get(ME, headers={"Authorization": f"Bearer {token}"}), "invalid_token")
    # Trailing dot or not, still refused.
    assert_401(
        await client.get(ME, headers={"Authorization": f"Bearer {token.rstrip('.')}"}),
        "invalid_token",
    )


async def test_other_hmac_algorithms_are_401(client: httpx.AsyncClient) -> None:
    """Only HS256 is configured; HS512 with the right secret is still refused."""
    with warnings.catch_warnings():  # the suite's secret is short for HS512
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = jwt.encode(_claims(), JWT_SECRET, algorithm="HS512")
    assert_401(await client.get(ME, headers={"Authorization": f"Bearer {token}"}), "invalid_token")


@pytest.mark.parametrize("missing", ["tenant", "role", "sub", "exp"])
async def test_tokens_missing_a_required_claim_are_401(
    client: httpx.AsyncClient, missing: str
) -> None:
    assert_401(await client.get(ME, headers=_hs256(_claims(**{missing: None}))))


@pytest.mark.parametrize("role", ["professor", "Student", "", "root", "superadmin", "Expert"])
async def test_an_invalid_role_is_401(client: httpx.AsyncClient, role: str) -> None:
    assert_401(await client.get(ME, headers=_hs256(_claims(role=role))), "invalid_claims")


@pytest.mark.parametrize(
    ("role", "acts_as"),
    [("expert", "instructor"), ("training_manager", "instructor"), ("org_admin", "admin")],
)
async def test_the_seed_apps_role_names_map_onto_liveclass_roles(
    client: httpx.AsyncClient, role: str, acts_as: str
) -> None:
    created = await client.post(
        "/api/v1/sessions", json={"title": "Mapped"}, headers=_hs256(_claims(role=role))
    )
    assert created.status_code == 201, created.text
    admin_only = await client.get("/api/v1/webhooks/endpoints", headers=_hs256(_claims(role=role)))
    assert admin_only.status_code == (200 if acts_as == "admin" else 403)


async def test_user_and_tenant_claims_as_the_seed_apps_name_them(
    settings_factory: Any, clock: FakeClock
) -> None:
    """``id`` for the user, ``tenantId`` for the tenant; without a tenant claim, the
    configured default tenant (refused when there is none)."""
    claims = _claims(sub=None, tenant=None, role="expert")
    no_tenant = {**claims, "id": "u-7"}
    async with own_client(settings_factory(), clock) as client:
        assert_401(await client.get(ME, headers=_hs256(no_tenant)), "invalid_claims")
        named = await client.get(ME, headers=_hs256({**no_tenant, "tenantId": "acme"}))
        assert named.status_code == 200, named.text
    async with own_client(settings_factory(default_tenant="acme"), clock) as client:
        created = await client.post(
            "/api/v1/sessions", json={"title": "Default"}, headers=_hs256(no_tenant)
        )
        assert created.status_code == 201, created.text
        assert (created.json()["tenantId"], created.json()["instructorId"]) == ("acme", "u-7")


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": ""},
        {"sub": "   "},
        {"sub": ["a"]},
        {"sub": True},
        {"sub": "x" * 129},
        {"tenant": ""},
        {"tenant": {"id": "acme"}},
        {"name": "x" * 201},
        {"sub": "student\x001"},
        {"name": "Sam\x00"},
    ],
)
async def test_malformed_identity_claims_are_401(
    client: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    assert_401(await client.get(ME, headers=_hs256(_claims(**claims))))


async def test_numeric_tenant_ids_are_accepted_as_text(client: httpx.AsyncClient) -> None:
    """Identity providers often issue numeric organisation ids (``sub`` must be a string:
    RFC 7519 makes it a StringOrURI, and PyJWT enforces that)."""
    response = await client.get(ME, headers=_hs256(_claims(tenant=4711)))
    assert response.status_code == 200, response.text
    assert_401(await client.get(ME, headers=_hs256(_claims(sub=12345))), "invalid_token")


async def test_a_room_token_is_not_a_bearer_token(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    session = await new_session()
    minted = await client.post(f"/api/v1/sessions/{session['id']}/token", headers=people.teacher)
    assert minted.status_code == 200, minted.text
    room_token = minted.json()["token"]
    response = await client.get(
        f"/api/v1/sessions/{session['id']}", headers={"Authorization": f"Bearer {room_token}"}
    )
    assert_401(response, "invalid_token")
    # The platform token of the same user works on the same endpoint.
    assert (
        await client.get(f"/api/v1/sessions/{session['id']}", headers=people.teacher)
    ).is_success


async def test_401_on_writes_changes_nothing(client: httpx.AsyncClient, people: People) -> None:
    refused = await client.post(
        "/api/v1/sessions",
        json={"title": "Sneaky"},
        headers=bearer(
            "teacher-1", "instructor", secret="not-the-platform-secret-0123456789abcdef"
        ),
    )
    assert_401(refused)
    listed = await client.get("/api/v1/sessions", headers=people.teacher)
    assert listed.json()["total"] == 0


# -- RS256 through a JWKS document ------------------------------------------------------------


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The identity provider's key and an attacker's key (generated once: RSA is slow)."""
    return _rsa_key(), _rsa_key()


@pytest.fixture
def jwks_url(
    tmp_path: Path, rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]
) -> Iterator[str]:
    """The identity provider's key set, served over HTTP on 127.0.0.1 (PyJWT's JWKS client
    fetches http(s) URLs only)."""
    key, _ = rsa_keys
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "idp-1", "use": "sig", "alg": "RS256"})
    root = tmp_path / "idp"
    root.mkdir()
    (root / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll interval: shutdown() waits for serve_forever's next poll (0.5 s by default).
    thread = threading.Thread(target=partial(server.serve_forever, 0.02), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def jwks_client(
    settings_factory: Callable[..., Settings], jwks_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(settings_factory(jwt_secret=None, jwks_url=jwks_url)) as c:
        yield c


def _rs256(key: rsa.RSAPrivateKey, claims: dict[str, Any], kid: str | None = "idp-1") -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_rs256_token_from_the_jwks_works(
    jwks_client: httpx.AsyncClient, rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]
) -> None:
    key, _ = rsa_keys
    token = _rs256(key, _claims(sub="teacher-1", name="Tina", role="instructor"))
    created = await jwks_client.post(
        "/api/v1/sessions", json={"title": "Signed by the IdP"}, headers=_auth(token)
    )
    assert created.status_code == 201, created.text
    assert created.json()["instructorId"] == "teacher-1"
    assert created.json()["tenantId"] == "acme"


async def test_jwks_mode_refuses_hs256_signed_with_the_public_key(
    jwks_client: httpx.AsyncClient, rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]
) -> None:
    """The key-confusion attack: an HS256 token whose HMAC key is the public key PEM."""
    key, _ = rsa_keys
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = _claims(role="admin")
    for secret in (pem, pem.strip()):
        token = _hmac_signed({"alg": "HS256", "typ": "JWT", "kid": "idp-1"}, claims, secret)
        assert_401(await jwks_client.get(ME, headers=_auth(token)), "invalid_token")
    # The same claims, properly signed, pass: the refusal is about the algorithm.
    assert (await jwks_client.get(ME, headers=_auth(_rs256(key, claims)))).status_code == 200


async def test_jwks_mode_refuses_another_keys_signature(
    jwks_client: httpx.AsyncClient, rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]
) -> None:
    _, attacker = rsa_keys
    assert_401(await jwks_client.get(ME, headers=_auth(_rs256(attacker, _claims()))))
    # Nor does a kid the key set does not hold, or no kid at all.
    assert_401(await jwks_client.get(ME, headers=_auth(_rs256(attacker, _claims(), kid="x"))))
    assert_401(await jwks_client.get(ME, headers=_auth(_rs256(attacker, _claims(), kid=None))))


async def test_jwks_mode_refuses_shared_secret_and_unsigned_tokens(
    jwks_client: httpx.AsyncClient,
) -> None:
    assert_401(await jwks_client.get(ME, headers=_hs256(_claims())), "invalid_token")
    unsigned = _unsigned({"alg": "none", "typ": "JWT", "kid": "idp-1"}, _claims())
    assert_401(await jwks_client.get(ME, headers=_auth(unsigned)), "invalid_token")


async def test_jwks_mode_checks_expiry_and_claims(
    jwks_client: httpx.AsyncClient, rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]
) -> None:
    key, _ = rsa_keys
    expired = _claims(exp=int(time.time()) - 3600)
    assert_401(await jwks_client.get(ME, headers=_auth(_rs256(key, expired))), "token_expired")
    bad_role = _claims(role="owner")
    assert_401(await jwks_client.get(ME, headers=_auth(_rs256(key, bad_role))), "invalid_claims")
    no_tenant = _claims(tenant=None)
    assert_401(await jwks_client.get(ME, headers=_auth(_rs256(key, no_tenant))))


async def test_audience_and_issuer_are_enforced_when_configured(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(jwt_audience="liveclass-api", jwt_issuer="https://idp.example")
    good = _claims(aud="liveclass-api", iss="https://idp.example")
    async with running(settings) as c:
        assert (await c.get(ME, headers=_hs256(good))).status_code == 200
        assert_401(await c.get(ME, headers=_hs256(_claims())))
        assert_401(await c.get(ME, headers=_hs256({**good, "aud": "liveclass:room"})))
        assert_401(await c.get(ME, headers=_hs256({**good, "iss": "https://evil.example"})))


# -- The verifier and the settings, without the app -------------------------------------------


async def test_authenticator_returns_the_principal() -> None:
    auth = Authenticator(secret=JWT_SECRET, jwks_url=None)
    principal = await auth.authenticate(
        bearer("t-1", "instructor", "globex", name="Tina")["Authorization"]
    )
    assert (principal.user_id, principal.name, principal.role, principal.tenant) == (
        "t-1",
        "Tina",
        UserRole.INSTRUCTOR,
        "globex",
    )
    with pytest.raises(Unauthorized):
        await auth.authenticate("Bearer " + jwt.encode(_claims(), "w" * 40, algorithm="HS256"))


def test_authenticator_needs_exactly_one_key_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Authenticator(secret=JWT_SECRET, jwks_url="https://idp.example/jwks.json")
    with pytest.raises(ValueError, match="exactly one"):
        Authenticator(secret=None, jwks_url=None)


def test_settings_refuse_both_jwt_secret_and_jwks_url(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not both"):
        Settings(
            data_dir=tmp_path,
            jwt_secret=JWT_SECRET,
            jwks_url="https://idp.example/.well-known/jwks.json",
        )


def test_production_needs_a_secret_key_and_an_identity_provider(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="LIVECLASS_SECRET_KEY"):
        Settings(data_dir=tmp_path, environment="production", jwt_secret=JWT_SECRET)
    with pytest.raises(ValidationError, match="LIVECLASS_JWT_SECRET or LIVECLASS_JWKS_URL"):
        Settings(data_dir=tmp_path, environment="production", secret_key="k" * 32)
    ok = Settings(
        data_dir=tmp_path,
        environment="production",
        jwt_secret=JWT_SECRET,
        secret_key="k" * 32,
    )
    assert ok.resolved_jwt_secret() == JWT_SECRET


def test_settings_read_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVECLASS_JWT_SECRET", "from-the-environment-0123456789")
    monkeypatch.setenv("LIVECLASS_JWKS_URL", "https://idp.example/jwks.json")
    with pytest.raises(ValidationError, match="not both"):
        Settings(data_dir=tmp_path)
