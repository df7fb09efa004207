"""The deployment a media bench runs against: spawned here, or one already running.

Spawned: one ``liveclass serve`` hub on real Redis (``--redis-url``) with SQLite (or a
PostgreSQL database the bench recreates), its in-process media worker off, and ``workers``
``liveclass media`` processes on the same Redis, each pinned to one of ``worker_cores`` (in
turn), offering ICE host candidates on 127.0.0.1 only. Every process is stopped on exit, also
on failure or Ctrl-C.

Already running (``--url``): the bench needs the platform secret to mint tokens and, to
measure CPU, the pids of the media workers (``--worker-pid``, when they run on this machine).
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.results import package_version
from bench.servers.spawn import free_port, run_once, spawn
from bench.targets import REPO, _prepare_postgres
from bench.tokens import Minter

__all__ = ["DeployOptions", "Deployment", "deploy"]


@dataclass
class DeployOptions:
    workers: int = 1
    worker_cores: list[int] | None = None
    hub_cores: list[int] | None = None
    redis_url: str = "redis://127.0.0.1:6379/14"
    postgres_url: str | None = None
    max_video_kbps: int = 1500
    #: How the spawned workers forward media (``LIVECLASS_MEDIA_FORWARDING``): rtp or frames.
    forwarding: str = "rtp"
    url: str | None = None
    secret: str | None = None
    worker_pids: list[int] = field(default_factory=list)
    hub_pid: int | None = None
    # run the workers from another source tree (A/B: ``python -m api.cli`` imports from cwd)
    worker_source: Path | None = None
    log_dir: Path | None = None  # the last lines each spawned process logged, written at exit


@dataclass
class Deployment:
    http_url: str
    minter: Minter
    hub_pid: int | None
    worker_pids: list[int]
    spawned: bool
    redis_url: str | None
    info: dict[str, Any] = field(default_factory=dict)


@asynccontextmanager
async def deploy(options: DeployOptions) -> AsyncIterator[Deployment]:
    if options.url:
        if not options.secret:
            raise ValueError("liveclass-bench media --url needs --secret or --secret-file")
        yield Deployment(
            options.url.rstrip("/"),
            Minter(secret=options.secret),
            options.hub_pid,
            list(options.worker_pids),
            False,
            None,
            {"url": options.url},
        )
        return
    async with AsyncExitStack() as stack:
        data = stack.enter_context(tempfile.TemporaryDirectory(prefix="liveclass-mbench-"))
        port = free_port()
        secret = secrets.token_urlsafe(32)
        env = {
            "LIVECLASS_DATA_DIR": data,
            "LIVECLASS_JWT_SECRET": secret,
            "LIVECLASS_SECRET_KEY": secrets.token_urlsafe(32),
            "LIVECLASS_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "LIVECLASS_NODE_ID": f"mbench-{port}",
            "LIVECLASS_LOG_LEVEL": "INFO",
            "LIVECLASS_REDIS_URL": options.redis_url,
            "LIVECLASS_MEDIA_IN_PROCESS": "false",
            "LIVECLASS_MEDIA_HOST_ADDRESSES": json.dumps(["127.0.0.1"]),
            "LIVECLASS_MEDIA_MAX_VIDEO_KBPS": str(options.max_video_kbps),
            "LIVECLASS_MEDIA_FORWARDING": options.forwarding,
        }
        info: dict[str, Any] = {
            "liveclass": package_version("liveclass"),
            "aiortc": package_version("aiortc"),
            "redis": options.redis_url,
            "database": "sqlite",
            "forwarding": options.forwarding,
        }
        if options.postgres_url:
            env["LIVECLASS_DATABASE_URL"] = await _prepare_postgres(options.postgres_url)
            await run_once([sys.executable, "-m", "api.cli", "db", "upgrade"], env=env, cwd=REPO)
            info["database"] = env["LIVECLASS_DATABASE_URL"]
        hub = await stack.enter_async_context(
            spawn(
                "liveclass serve",
                [
                    sys.executable,
                    "-m",
                    "api.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                port=port,
                ready="Uvicorn running on",  # once it listens (startup completes before the bind)
                env=env,
                cores=options.hub_cores,
                cwd=REPO,
            )
        )
        pids = []
        processes = [hub]
        for index in range(options.workers):
            cores = None
            if options.worker_cores:
                cores = [options.worker_cores[index % len(options.worker_cores)]]
            worker = await stack.enter_async_context(
                spawn(
                    f"liveclass media #{index}",
                    [sys.executable, "-m", "api.cli", "media"],
                    port=0,
                    ready=f"media worker mbench-{port}-w{index} ready",
                    env={
                        **env,
                        "LIVECLASS_MEDIA_WORKER_ID": f"mbench-{port}-w{index}",
                        "LIVECLASS_NODE_ID": f"mbench-{port}-w{index}",
                    },
                    cores=cores,
                    cwd=options.worker_source or REPO,
                )
            )
            pids.append(worker.pid)
            processes.append(worker)
        info["worker_cores"] = options.worker_cores
        info["worker_ids"] = [f"mbench-{port}-w{index}" for index in range(options.workers)]
        info["worker_source"] = str(options.worker_source or REPO)
        # stopped workers retire themselves from the registry (SIGTERM, on the way out)
        try:
            yield Deployment(
                hub.http_url, Minter(secret=secret), hub.pid, pids, True, options.redis_url, info
            )
        finally:
            if options.log_dir is not None:
                options.log_dir.mkdir(parents=True, exist_ok=True)
                for process in processes:
                    name = process.name.replace(" ", "-").replace("#", "")
                    (options.log_dir / f"{name}.log").write_text("\n".join(process.log) + "\n")
