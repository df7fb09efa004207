"""Room tokens: minted for one session, role and set of grants; refused when expired (on the
signer's clock), forged, tampered with, or meant for another audience."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from typing import Any

import jwt
import pytest

from api.auth import mint_platform_token
from rooms.errors import Unauthorized
from rooms.identity import UserRole
from rooms.model import RoomRole
from rooms.signing import derive_key
from rooms.tokens import ROOM_AUDIENCE, RoomGrant, RoomTokens
from tests.conftest import FakeClock

SECRET = "room-secret-0123456789abcdef0123456789"
TTL = 600


def grant(role: RoomRole = RoomRole.GUEST, **overrides: Any) -> RoomGrant:
    values: dict[str, Any] = {
        "session_id": "s-1",
        "tenant": "acme",
        "user_id": "u-1",
        "name": "Sam Student",
        "role": role,
    }
    values.update(overrides)
    return RoomGrant.for_role(**values)


@pytest.fixture
def tokens(clock: FakeClock) -> RoomTokens:
    return RoomTokens(SECRET, ttl_seconds=TTL, clock=clock)


def claims_of(token: str) -> dict[str, Any]:
    result: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return result


def signed(claims: dict[str, Any], key: bytes | str | None = None) -> str:
    return jwt.encode(claims, key or derive_key(SECRET, "room-token"), algorithm="HS256")


def assert_refused(tokens: RoomTokens, token: str, code: str = "invalid_token") -> None:
    with pytest.raises(Unauthorized) as refused:
        tokens.verify(token)
    assert refused.value.code == code


# -- Minting and verifying --------------------------------------------------------------------


@pytest.mark.parametrize("role", list(RoomRole))
def test_roundtrip(tokens: RoomTokens, role: RoomRole) -> None:
    original = grant(role)
    token, _ = tokens.mint(original)
    assert tokens.verify(token) == original


def test_claims_and_expiry(tokens: RoomTokens, clock: FakeClock) -> None:
    token, expires = tokens.mint(grant())
    claims = claims_of(token)
    assert expires == int(clock()) + TTL
    assert claims["exp"] == expires
    assert claims["iat"] == expires - TTL
    assert claims["aud"] == ROOM_AUDIENCE
    assert (claims["sub"], claims["sid"], claims["tenant"], claims["role"]) == (
        "u-1",
        "s-1",
        "acme",
        "guest",
    )
    assert tokens.ttl_seconds == TTL
    # Each token is unique, even minted in the same second for the same grant.
    assert tokens.mint(grant())[0] != token


def test_names_survive_unicode(tokens: RoomTokens) -> None:
    original = grant(name="Zoë 🙂 Ñandú")
    assert tokens.verify(tokens.mint(original)[0]).name == "Zoë 🙂 Ñandú"


def test_a_token_from_another_instance_with_the_same_secret_verifies(clock: FakeClock) -> None:
    """Every node shares LIVECLASS_SECRET_KEY: a token minted by one verifies on another."""
    token, _ = RoomTokens(SECRET, clock=clock).mint(grant())
    assert RoomTokens(SECRET, clock=clock).verify(token) == grant()


# -- Expiry on the signer's clock -------------------------------------------------------------


def test_expires_after_its_ttl(tokens: RoomTokens, clock: FakeClock) -> None:
    token, _ = tokens.mint(grant())
    clock.advance(TTL - 1)
    assert tokens.verify(token) == grant()
    clock.advance(10)
    assert_refused(tokens, token, "token_expired")


def test_a_token_minted_long_ago_is_expired(tokens: RoomTokens, clock: FakeClock) -> None:
    clock.advance(-(TTL + 60))
    token, expires = tokens.mint(grant())
    assert expires < time.time()
    clock.advance(TTL + 60)
    assert_refused(tokens, token, "token_expired")


def test_a_token_minted_on_a_moved_clock_verifies_on_it(
    tokens: RoomTokens, clock: FakeClock
) -> None:
    """Tests move the clock by hours; tokens minted then are valid then."""
    clock.advance(3 * 3600)
    token, _ = tokens.mint(grant())
    assert tokens.verify(token) == grant()


# -- Forgeries --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_tampered_claims_are_refused(tokens: RoomTokens) -> None:
    token, _ = tokens.mint(grant())
    header, _, signature = token.split(".")
    claims = claims_of(token)
    claims["role"] = "host"
    claims["grants"]["moderate"] = True
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    assert_refused(tokens, forged)
    # A flipped signature byte, too.
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert_refused(tokens, flipped)


def test_another_secret_is_refused(tokens: RoomTokens, clock: FakeClock) -> None:
    other = RoomTokens("another-secret-0123456789abcdef0123", clock=clock)
    assert_refused(tokens, other.mint(grant())[0])


def test_the_raw_secret_is_not_the_signing_key(tokens: RoomTokens, clock: FakeClock) -> None:
    claims = claims_of(tokens.mint(grant())[0])
    assert_refused(tokens, signed(claims, SECRET))


@pytest.mark.parametrize("audience", ["liveclass:api", "liveclass:link", ["other"]])
def test_wrong_audience_is_refused(tokens: RoomTokens, audience: object) -> None:
    claims = claims_of(tokens.mint(grant())[0])
    claims["aud"] = audience
    assert_refused(tokens, signed(claims))


def test_a_platform_token_is_not_a_room_token(tokens: RoomTokens) -> None:
    """Even signed with the server's secret: no room audience, no session."""
    platform = mint_platform_token(
        SECRET, sub="u-1", name="Sam", role=UserRole.INSTRUCTOR, tenant="acme"
    )
    assert_refused(tokens, platform)
    # And with the room key but without the audience.
    claims = claims_of(tokens.mint(grant())[0])
    del claims["aud"]
    assert_refused(tokens, signed(claims))


@pytest.mark.parametrize("missing", ["exp", "sub", "sid", "role", "tenant"])
def test_missing_claims_are_refused(tokens: RoomTokens, missing: str) -> None:
    claims = claims_of(tokens.mint(grant())[0])
    del claims[missing]
    assert_refused(tokens, signed(claims))


@pytest.mark.parametrize(
    "change",
    [{"role": "admin"}, {"role": "student"}, {"exp": "tomorrow"}, {"grants": ["publish"]}],
)
def test_malformed_claims_are_refused(tokens: RoomTokens, change: dict[str, Any]) -> None:
    claims = claims_of(tokens.mint(grant())[0])
    claims.update(change)
    with pytest.raises(Unauthorized):
        tokens.verify(signed(claims))


def test_alg_none_is_refused(tokens: RoomTokens) -> None:
    claims = claims_of(tokens.mint(grant())[0])
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    assert_refused(tokens, f"{header}.{_b64(json.dumps(claims).encode())}.")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * 3000])
def test_garbage_is_refused(tokens: RoomTokens, token: str) -> None:
    assert_refused(tokens, token)


# -- Grants -----------------------------------------------------------------------------------


def test_grants_per_role() -> None:
    assert grant(RoomRole.HOST).grants() == {
        "publish": True,
        "subscribe": True,
        "chat": True,
        "moderate": True,
        "hidden": False,
    }
    assert grant(RoomRole.GUEST).grants() == {
        "publish": False,
        "subscribe": True,
        "chat": True,
        "moderate": False,
        "hidden": False,
    }
    assert grant(RoomRole.OBSERVER).grants() == {
        "publish": False,
        "subscribe": True,
        "chat": False,
        "moderate": False,
        "hidden": True,
    }


def test_grants_travel_in_the_token(tokens: RoomTokens) -> None:
    custom = RoomGrant(
        session_id="s-9",
        tenant="globex",
        user_id="u-9",
        name="Gus",
        role=RoomRole.GUEST,
        can_publish=True,  # the host allowed this guest to publish
        can_subscribe=True,
        can_chat=False,  # and muted their chat
        can_moderate=False,
        hidden=False,
    )
    token, _ = tokens.mint(custom)
    assert claims_of(token)["grants"] == custom.grants()
    assert tokens.verify(token) == custom


# -- The fast check of our own tokens agrees with PyJWT's ---------------------------------------


def _outcome(verify: Any, token: str) -> object:
    try:
        return verify(token)
    except Unauthorized as refused:
        return refused.code


def _variants(tokens: RoomTokens) -> dict[str, str]:
    """Tokens of our form and near it: each is decided by the fast check or handed to PyJWT."""
    token, _ = tokens.mint(grant(room_name="maths-101"))
    header, payload, signature = token.split(".")
    claims = claims_of(token)
    key = derive_key(SECRET, "room-token")

    def with_claims(**changes: Any) -> str:
        body = {**claims, **changes}
        return signed({k: v for k, v in body.items() if v is not None}, key)

    other_header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    resigned = jwt.encode(claims, key, algorithm="HS256", headers={"typ": "JWT", "kid": "k1"})
    with warnings.catch_warnings():  # our 32-byte key is short for HS512, as it should be
        warnings.simplefilter("ignore")
        hs512 = jwt.encode(claims, key, algorithm="HS512")
    return {
        "ours": token,
        "padded signature": f"{token}=",
        "padded payload": f"{header}.{payload}=.{signature}",
        "junk in the payload": f"{header}.{payload[:-1]}!.{signature}",
        "junk in the signature": f"{header}.{payload}.{signature[:-1]}*",
        "short signature": f"{header}.{payload}.{signature[:-4]}",
        "signature of one char too many": f"{header}.{payload}.{signature}A",
        "no signature": f"{header}.{payload}.",
        "four parts": f"{token}.{signature}",
        "flipped payload char": f"{header}.{payload[:9]}{'A' if payload[9] != 'A' else 'B'}"
        f"{payload[10:]}.{signature}",
        "header with its keys swapped": f"{other_header}.{payload}.{signature}",
        "a kid header": resigned,
        "HS512 with our key": hs512,
        "audience list": with_claims(aud=[ROOM_AUDIENCE, "other"]),
        "audience list without ours": with_claims(aud=["other"]),
        "empty audience": with_claims(aud=""),
        "no audience": with_claims(aud=None),
        "sub a number": with_claims(sub=42),
        "jti a number": with_claims(jti=7),
        "nbf in the future": with_claims(nbf=int(time.time()) + 3600),
        "nbf in the past": with_claims(nbf=int(time.time()) - 3600),
        "nbf not a number": with_claims(nbf="soon"),
        "sid null": with_claims(sid=None),
        "role unknown": with_claims(role="admin"),
        "exp a string": with_claims(exp="tomorrow"),
        "payload not an object": signed_raw(key, b"[1, 2]"),
        "payload not JSON": signed_raw(key, b"{not json"),
        "payload not UTF-8": signed_raw(key, b'{"sub": "\xff"}'),
    }


def signed_raw(key: bytes, body: bytes) -> str:
    """A token of our header whose payload is ``body`` as it is, signed with ``key``."""
    head = _b64(b'{"alg":"HS256","typ":"JWT"}')
    signing = f"{head}.{_b64(body)}"
    return f"{signing}.{_b64(hmac.digest(key, signing.encode(), hashlib.sha256))}"


def test_the_fast_check_decides_as_pyjwt_does(tokens: RoomTokens) -> None:
    """Every token is refused or granted exactly as with PyJWT alone (``_decode``)."""

    def no_fast_check(token: str) -> dict[str, Any] | None:
        return None

    def pyjwt_only(token: str) -> RoomGrant:
        original = tokens._our_claims
        tokens._our_claims = no_fast_check  # type: ignore[method-assign]
        try:
            return tokens.verify(token)
        finally:
            tokens._our_claims = original  # type: ignore[method-assign]

    for name, token in _variants(tokens).items():
        assert _outcome(tokens.verify, token) == _outcome(pyjwt_only, token), name


def test_our_own_tokens_are_checked_without_pyjwt(tokens: RoomTokens) -> None:
    """The form mint makes takes the fast check (a join storm's every token), forged or not."""
    token, _ = tokens.mint(grant())
    assert tokens._our_claims(token) == claims_of(token)
    header, payload, signature = token.split(".")
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    with pytest.raises(jwt.InvalidSignatureError):
        tokens._our_claims(f"{header}.{payload}.{flipped}")
    assert_refused(tokens, f"{header}.{payload}.{flipped}")
