"""The ``liveclass`` command: serve, migrate the database, mint development tokens."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from api.settings import Settings

__all__ = ["main"]


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from api.app import create_app
    from api.logs import configure_logging
    from api.server import serve

    configure_logging(settings.log_level, settings.log_format)
    if not settings.embedded_database:
        problem = asyncio.run(_schema_problem(settings))
        if problem is not None:
            print(f"liveclass serve: {problem}", file=sys.stderr)
            return 2
    serve(
        create_app(settings),
        settings,
        host=args.host or settings.host,
        port=args.port or settings.port,
    )
    return 0


async def _schema_problem(settings: Settings) -> str | None:
    """Why ``serve`` must not start on the configured database, or None. An unreachable
    database is no reason: the server runs through outages, and its readiness says so."""
    from rooms.store import create_database
    from rooms.store.availability import database_unavailable
    from rooms.store.migrate import schema_problem

    database = create_database(settings.resolved_database_url(), statement_timeout=10)
    try:
        return await schema_problem(database)
    except Exception as exc:
        if database_unavailable(exc):
            logging.getLogger("liveclass").warning(
                "could not check the database's schema (%r); starting anyway", exc
            )
            return None
        return f"could not read the database's schema: {exc}"
    finally:
        await database.dispose()


def _media(settings: Settings, args: argparse.Namespace) -> int:
    """Run one media worker until SIGINT/SIGTERM."""
    import signal

    from api.logs import configure_logging
    from api.services import bus_factory, open_media_worker
    from rooms.presence import RedisPresence
    from rooms.redis_client import close_redis, connect_redis
    from rooms.store import create_database

    configure_logging(settings.log_level, settings.log_format)
    if settings.redis_url is None:
        print(
            "liveclass media: set LIVECLASS_REDIS_URL to the hub's Redis (the embedded one "
            "lives inside `liveclass serve`, which runs its own media worker)",
            file=sys.stderr,
        )
        return 2

    async def run() -> None:
        redis = connect_redis(settings.redis_url, cluster=settings.redis_cluster)
        # Server recordings: the worker writes their rows (ready, failed) itself.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = create_database(
            settings.resolved_database_url(),
            pool_size=2,
            statement_timeout=settings.db_statement_timeout_seconds,
        )
        worker = open_media_worker(
            settings, redis, RedisPresence(redis), database, new_bus=bus_factory(settings, redis)
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.start()
        logging.getLogger("liveclass").info("media worker %s ready", worker.worker_id)
        try:
            await stop.wait()
        finally:
            await worker.stop()
            await close_redis(redis)
            await database.dispose()

    # uvloop (installed with uvicorn[standard], which `serve` already runs on) reads and
    # writes datagrams in C: a media worker spends most of its time there.
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] installs it
        asyncio.run(run())
    else:
        uvloop.run(run())
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from rooms.store import create_database, upgrade_database

    async def run() -> None:
        # A migration may rewrite a big table: no bound on its statements.
        database = create_database(settings.resolved_database_url(), statement_timeout=None)
        try:
            await upgrade_database(database, args.revision)
        finally:
            await database.dispose()

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run())
    print(f"database at revision {args.revision}")
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from api.auth import mint_platform_token
    from rooms.identity import UserRole

    secret = settings.resolved_jwt_secret()
    if secret is None:
        print(
            "liveclass token: this server verifies tokens from an identity provider's JWKS; "
            "mint tokens there",
            file=sys.stderr,
        )
        return 2
    print(
        mint_platform_token(
            secret,
            sub=args.sub,
            name=args.name,
            role=UserRole(args.role),
            tenant=args.tenant,
            ttl_seconds=args.ttl,
            email=args.email,
        )
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liveclass", description="Self-hosted backend for live classes."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (uvicorn)")
    serve.add_argument("--host", help="bind address (default LIVECLASS_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default LIVECLASS_PORT or 8000)")
    serve.set_defaults(run=_serve)

    media = sub.add_parser("media", help="run a media worker (SFU and recorder)")
    media.set_defaults(run=_media)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(run=_db_upgrade)

    token = sub.add_parser("token", help="print a bearer token for development or load tests")
    token.add_argument("--sub", required=True, help="user id")
    token.add_argument("--name", required=True, help="display name")
    token.add_argument("--role", required=True, choices=["instructor", "student", "admin"])
    token.add_argument("--tenant", required=True)
    token.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    token.add_argument("--email")
    token.set_defaults(run=_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"liveclass: invalid configuration: {exc}", file=sys.stderr)
        return 2
    code: int = args.run(settings, args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
