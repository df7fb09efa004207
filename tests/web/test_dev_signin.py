"""The development sign-in and the pages' routes: on in development, 404 in production (and a
production server refuses to start with it forced on); tokens it mints work on the API; pages
and static files carry the security headers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from api.settings import Settings
from tests.api.helpers import error_of, own_client
from tests.conftest import FakeClock

SettingsFactory = Callable[..., Settings]
TOKEN_BODY = {"sub": "t1", "name": "Tina Teacher", "role": "instructor", "tenant": "acme"}


async def test_development_mints_working_tokens(
    settings_factory: SettingsFactory, clock: FakeClock
) -> None:
    async with own_client(settings_factory(), clock) as client:
        config = (await client.get("/web-config.json")).json()
        assert config["devSignin"] is True
        assert config["environment"] == "development"
        page = await client.get("/dev/signin")
        assert page.status_code == 200
        assert "Development sign-in" in page.text
        minted = await client.post("/dev/token", json=TOKEN_BODY)
        assert minted.status_code == 200, minted.text
        assert minted.headers["cache-control"] == "no-store"
        body = minted.json()
        assert body["user"] == TOKEN_BODY
        headers = {"Authorization": f"Bearer {body['token']}"}
        created = await client.post("/api/v1/sessions", json={"title": "Dev"}, headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["instructor"] == {"id": "t1", "name": "Tina Teacher", "avatar": None}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"not json", 400, "invalid_json"),
        (b"[1]", 422, "validation_failed"),
        (b'{"sub": "t1"}', 422, "validation_failed"),
        (b'{"sub": "a b", "name": "x", "role": "student", "tenant": "acme"}', 422, None),
        (b'{"sub": "t1", "name": "x", "role": "root", "tenant": "acme"}', 422, None),
        (
            b'{"sub": "t1", "name": "x", "role": "student", "tenant": "acme", "ttlSeconds": 1}',
            422,
            None,
        ),
    ],
)
async def test_bad_requests_get_the_error_shape(
    settings_factory: SettingsFactory, clock: FakeClock, body: bytes, status: int, code: str | None
) -> None:
    async with own_client(settings_factory(), clock) as client:
        response = await client.post("/dev/token", content=body)
        assert response.status_code == status
        assert error_of(response)["code"] == (code or "validation_failed")


async def test_production_has_no_dev_signin(
    settings_factory: SettingsFactory, clock: FakeClock
) -> None:
    async with own_client(settings_factory(environment="production"), clock) as client:
        assert (await client.get("/web-config.json")).json()["devSignin"] is False
        for method, path in (("GET", "/dev/signin"), ("POST", "/dev/token")):
            response = await client.request(method, path, json=TOKEN_BODY)
            assert response.status_code == 404
            assert error_of(response)["code"] == "not_found"
        # The pages themselves are there: sign-in takes the platform's tokens.
        assert (await client.get("/signin.html")).status_code == 200


async def test_the_switch(settings_factory: SettingsFactory, clock: FakeClock) -> None:
    assert settings_factory().dev_signin_enabled
    assert not settings_factory(dev_signin=False).dev_signin_enabled
    assert not settings_factory(environment="production").dev_signin_enabled
    with pytest.raises(ValueError, match="never in production"):
        settings_factory(environment="production", dev_signin=True)
    jwks = settings_factory(jwt_secret=None, jwks_url="https://idp.example/jwks.json")
    assert not jwks.dev_signin_enabled
    with pytest.raises(ValueError, match="JWKS"):
        settings_factory(jwt_secret=None, jwks_url="https://idp.example/jwks.json", dev_signin=True)
    async with own_client(settings_factory(dev_signin=False), clock) as client:
        assert (await client.post("/dev/token", json=TOKEN_BODY)).status_code == 404


def test_production_server_refuses_to_start_with_it_forced_on(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")},
        "LIVECLASS_ENVIRONMENT": "production",
        "LIVECLASS_DEV_SIGNIN": "true",
        "LIVECLASS_JWT_SECRET": "x" * 40,
        "LIVECLASS_SECRET_KEY": "y" * 40,
        "LIVECLASS_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "LIVECLASS_DEV_SIGNIN" in result.stderr


async def test_pages_and_static_files(settings_factory: SettingsFactory, clock: FakeClock) -> None:
    async with own_client(settings_factory(), clock) as client:
        for path in ("/", "/index.html", "/classroom.html", "/signin.html"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert page.headers["x-frame-options"] == "DENY"
        script = await client.get("/static/liveclass.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert "export class LiveclassClient" in script.text
        missing = await client.get("/static/nope.js")
        assert missing.status_code == 404
        assert error_of(missing)["code"] == "not_found"
        # The pages do not swallow the API's 405s or 404s.
        assert (await client.put("/api/v1/sessions")).status_code == 405
        assert error_of(await client.get("/nowhere"))["code"] == "not_found"
