"""Signed, expiring links and per-purpose keys."""

from __future__ import annotations

import base64

import pytest

from rooms.errors import Forbidden
from rooms.signing import LinkSigner, derive_key
from tests.conftest import FakeClock

SECRET = "link-secret-0123456789abcdef0123456789"
PATH = "/api/v1/recordings/r-1/file"


@pytest.fixture
def signer(clock: FakeClock) -> LinkSigner:
    return LinkSigner(SECRET, clock=clock)


def refused(signer: LinkSigner, path: str, expires: str | None, signature: str | None) -> str:
    with pytest.raises(Forbidden) as error:
        signer.verify(path, expires, signature)
    return error.value.code


def test_roundtrip(signer: LinkSigner, clock: FakeClock) -> None:
    expires, signature = signer.sign(PATH, 3600)
    assert expires == int(clock()) + 3600
    signer.verify(PATH, str(expires), signature)
    # URL-safe, unpadded base64 of a SHA-256 MAC.
    assert "=" not in signature
    assert "+" not in signature
    assert "/" not in signature
    assert len(base64.urlsafe_b64decode(signature + "=")) == 32


def test_links_expire_on_the_clock(signer: LinkSigner, clock: FakeClock) -> None:
    expires, signature = signer.sign(PATH, 60)
    clock.advance(59)
    signer.verify(PATH, str(expires), signature)
    clock.advance(2)
    assert refused(signer, PATH, str(expires), signature) == "link_expired"


def test_altering_the_path_or_the_expiry_breaks_the_signature(signer: LinkSigner) -> None:
    expires, signature = signer.sign(PATH, 60)
    assert refused(signer, PATH.replace("r-1", "r-2"), str(expires), signature) == (
        "invalid_signature"
    )
    assert refused(signer, PATH + "/", str(expires), signature) == "invalid_signature"
    assert refused(signer, PATH, str(expires + 3600), signature) == "invalid_signature"
    tampered = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert refused(signer, PATH, str(expires), tampered) == "invalid_signature"


@pytest.mark.parametrize(
    ("expires", "signature"),
    [(None, "sig"), ("123", None), ("", "sig"), ("12a", "sig"), ("-5", "sig"), ("1e9", "sig")],
)
def test_unsigned_or_malformed_links_are_refused(
    signer: LinkSigner, expires: str | None, signature: str | None
) -> None:
    assert refused(signer, PATH, expires, signature) == "invalid_signature"


def test_another_secret_does_not_verify(signer: LinkSigner, clock: FakeClock) -> None:
    other = LinkSigner("another-secret-0123456789abcdef", clock=clock)
    expires, signature = other.sign(PATH, 60)
    assert refused(signer, PATH, str(expires), signature) == "invalid_signature"
    # The same secret on another node does.
    LinkSigner(SECRET, clock=clock).verify(PATH, *_as_query(signer.sign(PATH, 60)))


def _as_query(signed: tuple[int, str]) -> tuple[str, str]:
    return str(signed[0]), signed[1]


def test_expired_and_forged_reports_the_forgery(signer: LinkSigner, clock: FakeClock) -> None:
    """The signature is checked first: an old forged link says invalid, not expired."""
    expires, _ = signer.sign(PATH, 60)
    clock.advance(120)
    assert refused(signer, PATH, str(expires), "forged") == "invalid_signature"


def test_derived_keys_differ_per_purpose_and_secret() -> None:
    keys = {
        derive_key(SECRET, "link"),
        derive_key(SECRET, "room-token"),
        derive_key("other-secret", "link"),
    }
    assert len(keys) == 3
    assert derive_key(SECRET, "link") == derive_key(SECRET, "link")
    assert all(len(k) == 32 for k in keys)
    assert SECRET.encode() not in keys
