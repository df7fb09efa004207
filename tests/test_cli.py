"""The ``liveclass`` command: minting development tokens, migrating the database, and refusing
an invalid configuration. Configuration comes from ``LIVECLASS_*`` variables, as in production."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import jwt
import pytest
from alembic.script import ScriptDirectory

from api.auth import Authenticator
from api.cli import main
from api.settings import Settings
from rooms.errors import Unauthorized
from rooms.identity import Principal, UserRole
from rooms.store.migrate import alembic_config
from tests import services as svc

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()

SECRET = "cli-platform-secret-0123456789abcdef"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("LIVECLASS_DATA_DIR", str(path))
    return path


TOKEN_ARGS = ["token", "--sub", "t-1", "--name", "Tina Teacher", "--role", "instructor"]


async def test_token_is_verified_to_the_right_principal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    monkeypatch.setenv("LIVECLASS_JWT_SECRET", SECRET)
    code, out, err = run([*TOKEN_ARGS, "--tenant", "acme", "--email", "tina@acme.test"], capsys)
    assert code == 0, err
    token = out.strip()
    assert "\n" not in token
    principal = await Authenticator(secret=SECRET, jwks_url=None).verify(token)
    assert principal == Principal(
        user_id="t-1",
        name="Tina Teacher",
        role=UserRole.INSTRUCTOR,
        tenant="acme",
        email="tina@acme.test",
    )
    # Another secret does not verify it.
    with pytest.raises(Unauthorized, match="not valid"):
        await Authenticator(secret="x" * 40, jwks_url=None).verify(token)


def test_token_ttl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    monkeypatch.setenv("LIVECLASS_JWT_SECRET", SECRET)
    code, out, _ = run([*TOKEN_ARGS, "--tenant", "acme", "--ttl", "120"], capsys)
    assert code == 0
    claims = jwt.decode(out.strip(), SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 120
    assert (claims["sub"], claims["role"], claims["tenant"]) == ("t-1", "instructor", "acme")


async def test_without_an_identity_provider_tokens_use_the_server_key(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    """Development: the token is signed with the key generated in the data directory, which
    the server (same data directory) verifies with."""
    code, out, err = run([*TOKEN_ARGS, "--tenant", "acme"], capsys)
    assert code == 0, err
    key_file = data_dir / "secret-key"
    assert key_file.is_file()
    assert key_file.stat().st_mode & 0o077 == 0  # readable by the owner only
    server_secret = Settings().resolved_jwt_secret()
    assert server_secret == key_file.read_text().strip()
    principal = await Authenticator(secret=server_secret, jwks_url=None).verify(out.strip())
    assert principal.user_id == "t-1"
    # A second run reuses the key.
    code, out2, _ = run([*TOKEN_ARGS, "--tenant", "acme"], capsys)
    assert code == 0
    assert (
        await Authenticator(secret=server_secret, jwks_url=None).verify(out2.strip())
    ).tenant == ("acme")


def test_token_with_jwks_configured_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    monkeypatch.setenv("LIVECLASS_JWKS_URL", "https://idp.example/.well-known/jwks.json")
    code, out, err = run([*TOKEN_ARGS, "--tenant", "acme"], capsys)
    assert code == 2
    assert out == ""
    assert "JWKS" in err


def test_invalid_configuration_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    monkeypatch.setenv("LIVECLASS_JWT_SECRET", SECRET)
    monkeypatch.setenv("LIVECLASS_JWKS_URL", "https://idp.example/.well-known/jwks.json")
    code, out, err = run([*TOKEN_ARGS, "--tenant", "acme"], capsys)
    assert code == 2
    assert out == ""
    assert "invalid configuration" in err
    assert "not both" in err
    # Same for every command, before it does anything.
    code, _, err = run(["db", "upgrade"], capsys)
    assert code == 2
    assert "invalid configuration" in err
    assert not (data_dir / "liveclass.db").exists()


def test_production_without_a_secret_key_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    monkeypatch.setenv("LIVECLASS_ENVIRONMENT", "production")
    monkeypatch.setenv("LIVECLASS_JWT_SECRET", SECRET)
    code, _, err = run([*TOKEN_ARGS, "--tenant", "acme"], capsys)
    assert code == 2
    assert "LIVECLASS_SECRET_KEY" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "--sub", "t-1", "--name", "T", "--role", "instructor"],  # no --tenant
        ["token", "--sub", "t-1", "--name", "T", "--role", "wizard", "--tenant", "acme"],
        ["token", "--sub", "t-1", "--name", "T", "--role", "admin", "--tenant", "a", "--ttl", "x"],
        [],
        ["db"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "usage: liveclass" in capsys.readouterr().err


def test_db_upgrade_creates_the_tables(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert not data_dir.exists()
    code, out, err = run(["db", "upgrade"], capsys)
    assert code == 0, err
    assert "database at revision head" in out
    database = data_dir / "liveclass.db"
    assert database.is_file()
    with sqlite3.connect(database) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {
        "sessions",
        "enrollments",
        "feedback",
        "attendance",
        "chat_messages",
        "recordings",
        "session_bans",
        "alembic_version",
    } <= tables
    assert version == [(HEAD,)]
    # Running it again is harmless.
    code, out, err = run(["db", "upgrade"], capsys)
    assert code == 0, err
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]


def test_db_upgrade_honours_the_database_url(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    monkeypatch.setenv("LIVECLASS_DATABASE_URL", f"sqlite:///{elsewhere}")
    code, _, err = run(["db", "upgrade"], capsys)
    assert code == 0, err
    assert elsewhere.is_file()
    assert not (data_dir / "liveclass.db").exists()
    with sqlite3.connect(elsewhere) as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """``serve`` replaced by a recorder: what would have been served."""
    apps: list[object] = []
    monkeypatch.setattr("api.server.serve", lambda app, *_, **__: apps.append(app))
    return apps


def _sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "own.db"
    monkeypatch.setenv("LIVECLASS_DATABASE_URL", f"sqlite:///{path}")
    return path


def test_serve_refuses_a_database_without_the_schema(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    tmp_path: Path,
    served: list[object],
) -> None:
    """A server on an unmigrated database answered every request 500 (and /readyz 200):
    it now does not start, and says what to run."""
    _sqlite(monkeypatch, tmp_path)
    code, _, err = run(["serve"], capsys)
    assert code == 2
    assert "no liveclass schema yet" in err
    assert "liveclass db upgrade" in err
    assert "Traceback" not in err
    assert not served
    assert run(["db", "upgrade"], capsys)[0] == 0
    code, _, err = run(["serve"], capsys)
    assert code == 0, err
    assert len(served) == 1


def test_serve_refuses_a_schema_behind_or_ahead_of_the_release(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    tmp_path: Path,
    served: list[object],
) -> None:
    path = _sqlite(monkeypatch, tmp_path)
    assert run(["db", "upgrade", "0001"], capsys)[0] == 0
    code, _, err = run(["serve"], capsys)
    assert code == 2
    assert f"this release needs {HEAD}: run `liveclass db upgrade`" in err
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    code, _, err = run(["serve"], capsys)
    assert code == 2
    assert "f00dfeed, which this release does not know" in err
    assert not served


@pytest.mark.services
def test_serve_refuses_an_empty_postgresql_database(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    served: list[object],
) -> None:
    empty = svc.recreate_postgres_database(f"{svc.postgres_database()}_empty")
    monkeypatch.setenv("LIVECLASS_DATABASE_URL", empty)
    code, _, err = run(["serve"], capsys)
    assert code == 2
    assert "no liveclass schema yet" in err
    assert not served


def test_serve_starts_when_the_database_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    served: list[object],
) -> None:
    """No reason to refuse: the server runs through a database outage (readiness says so)."""
    monkeypatch.setenv("LIVECLASS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, _, err = run(["serve"], capsys)
    assert code == 0, err
    assert len(served) == 1
