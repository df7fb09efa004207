"""The signature scheme and the retry schedule (pure functions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from rooms.webhooks.backoff import Backoff
from rooms.webhooks.signing import (
    InvalidSignature,
    new_secret,
    signature_header,
    standard_headers,
    verify,
)

SECRET = "whsec_test"
BODY = b'{"id":"e1","type":"session.started"}'
NOW = 1_763_895_600


def test_the_header_is_stripe_style_hmac_sha256_over_timestamp_dot_body() -> None:
    header = signature_header(SECRET, NOW, BODY)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    assert verify(SECRET, header, BODY, now=NOW + 10) == NOW


@pytest.mark.parametrize(
    ("header", "body", "secret", "now"),
    [
        (None, BODY, SECRET, NOW),
        ("", BODY, SECRET, NOW),
        ("v1=abc", BODY, SECRET, NOW),
        (f"t={NOW}", BODY, SECRET, NOW),
        ("t=soon,v1=abc", BODY, SECRET, NOW),
        (signature_header(SECRET, NOW, BODY), BODY + b" ", SECRET, NOW),  # tampered body
        (signature_header(SECRET, NOW, BODY), BODY, "whsec_other", NOW),  # wrong secret
        (signature_header(SECRET, NOW, BODY), BODY, SECRET, NOW + 301),  # replayed later
        (signature_header(SECRET, NOW, BODY), BODY, SECRET, NOW - 301),  # from the future
        (
            signature_header(SECRET, NOW + 1, BODY).replace(f"t={NOW + 1}", f"t={NOW}"),
            BODY,
            SECRET,
            NOW,
        ),  # timestamp swapped
    ],
)
def test_invalid_signatures_are_refused(
    header: str | None, body: bytes, secret: str, now: int
) -> None:
    with pytest.raises(InvalidSignature):
        verify(secret, header, body, now=now)


def test_any_of_several_v1_values_may_match() -> None:
    good = signature_header(SECRET, NOW, BODY).split(",")[1]
    assert verify(SECRET, f"t={NOW},v1=deadbeef,{good}", BODY, now=NOW) == NOW


def test_secrets_are_random_and_prefixed() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) > 40 for s in secrets)
    assert all(
        len(base64.b64decode(s.removeprefix("whsec_"), validate=True)) == 32 for s in secrets
    )


# a secret as new_secret makes them, and one made before (URL-safe characters)
@pytest.mark.parametrize(
    "secret", ["whsec_" + base64.b64encode(bytes(range(32))).decode(), "whsec_" + "x" * 43 + "-_Q"]
)
def test_a_standard_webhooks_verifier_library_accepts_the_standard_headers(secret: str) -> None:
    now = int(time.time())  # the library reads the clock itself
    headers = standard_headers(secret, "evt_1", now, BODY)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(now)
    assert headers["webhook-signature"].startswith("v1,")
    verifier = Webhook(secret)
    assert verifier.verify(BODY, headers) == {"id": "e1", "type": "session.started"}
    tampered = {**headers, "webhook-id": "evt_2"}
    with pytest.raises(WebhookVerificationError):
        verifier.verify(BODY, tampered)


def test_backoff_doubles_with_equal_jitter_up_to_the_cap_then_gives_up() -> None:
    backoff = Backoff()
    assert (backoff.base_seconds, backoff.cap_seconds, backoff.max_attempts) == (10, 3600, 20)
    assert [backoff.nominal(n) for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert backoff.nominal(11) == 3600
    assert backoff.nominal(500) == 3600
    assert backoff.delay(1, lambda: 0.0) == 5
    assert backoff.delay(1, lambda: 0.999999) == pytest.approx(10, abs=1e-4)
    assert backoff.delay(3, lambda: 0.5) == 30
    assert backoff.delay(11, lambda: 0.0) == 1800
    assert backoff.delay(19) is not None
    assert backoff.delay(20) is None
    assert Backoff(max_attempts=1).delay(1) is None
    # The README promises retries for about 6 to 11 hours (jitter takes up to half of each).
    nominal = sum(backoff.nominal(n) for n in range(1, 20))
    assert nominal / 2 > 5.5 * 3600
    assert nominal < 11.5 * 3600
