"""The crosscheck's independent load generators, run as child processes: Node
(``bench/node/loadgen.js``) and Go (``bench/go/*.go``, built by ``scripts/ensure-go-tools.sh``).

Both read the same CONFIG.json and write the same RESULT.json shape (the Node file's header
describes them); :func:`external_measure` spawns a target as :func:`bench.execute.execute`
does (same settings, same pinning), sets its room up and runs one of them against it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.affinity import split_cores
from bench.execute import RunOptions
from bench.scenario import Scenario
from bench.targets import NODE_DIR, REPO, node_setup, start_target

__all__ = [
    "EXTERNAL",
    "GENERATORS",
    "GO_DIR",
    "JOIN_TIMEOUT",
    "check_scenario",
    "external_measure",
    "go_setup",
    "loadgen_config",
]

#: Every generator crosscheck knows, the bench's own first.
GENERATORS = ("python", "node", "go")
#: The ones run as child processes.
EXTERNAL = ("node", "go")
GO_DIR = Path(__file__).resolve().parent / "go"
ENSURE_GO = REPO / "scripts" / "ensure-go-tools.sh"
JOIN_TIMEOUT = 60.0
#: Seconds a generator may take beyond its join timeout, settle, load and drain.
SLACK = 30.0


def check_scenario(scenario: Scenario) -> None:
    """The external generators play one room's chat load only: refuse what they would not do."""
    if scenario.rooms != 1 or scenario.churn or scenario.slow or scenario.resume_at is not None:
        raise ValueError("crosscheck runs one room without churn, slow consumers or resumes")
    if scenario.codec != "json":
        raise ValueError("crosscheck speaks liveclass's JSON subprotocol only")
    if not scenario.steps:
        raise ValueError("crosscheck needs at least one load step")


def go_setup(*, quiet: bool = False) -> Path:
    """Build the Go load generator (installing Debian's Go and gorilla/websocket when run as
    root without them) unless it is up to date; its path."""
    done = subprocess.run([str(ENSURE_GO)], check=False, capture_output=True, text=True)
    if not quiet and done.stderr:
        print(done.stderr, end="", flush=True)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/ensure-go-tools.sh failed: {done.stderr.strip()}")
    return Path(done.stdout.strip().splitlines()[-1])


def _argv(generator: str) -> tuple[list[str], Path]:
    """The command (config and result paths to be appended) and its working folder."""
    if generator == "node":
        node_setup(quiet=True)
        return [shutil.which("node") or "/usr/bin/node", str(NODE_DIR / "loadgen.js")], NODE_DIR
    if generator == "go":
        return [str(go_setup(quiet=True))], GO_DIR
    raise ValueError(f"no external load generator {generator!r} (one of {', '.join(EXTERNAL)})")


def loadgen_config(dialect: str, urls: list[str], scenario: Scenario) -> dict[str, Any]:
    """The CONFIG.json both external generators read."""
    return {
        "dialect": dialect,
        "urls": urls,
        "steps": [{"rate": s.rate, "seconds": s.seconds} for s in scenario.steps],
        "textBytes": scenario.text_bytes,
        "senderRate": scenario.sender_rate,
        "settle": scenario.settle,
        "drain": scenario.drain,
        "joinTimeout": JOIN_TIMEOUT,
    }


async def external_measure(
    generator: str, name: str, scenario: Scenario, options: RunOptions
) -> dict[str, Any]:
    """Spawn target ``name`` as :func:`bench.execute.execute` does (same settings, same
    pinning), set its room up, and run ``generator`` ("node" or "go") against it; the
    generator's result document, with the target's description."""
    check_scenario(scenario)
    argv, cwd = await asyncio.to_thread(_argv, generator)
    original = os.sched_getaffinity(0)
    server_cores, client_cores = split_cores(options.pin, sorted(original))
    target_options = replace(options.target, server_cores=server_cores)
    try:
        if client_cores:
            os.sched_setaffinity(0, client_cores)  # the generator inherits the client cores
        async with start_target(name, target_options) as target:
            try:
                (urls,) = await target.room_urls(1, scenario.clients, secrets.token_hex(3))
                config = loadgen_config(target.dialect.value, urls, scenario)
                result = await _run(generator, argv, cwd, config, scenario)
            finally:
                await target.cleanup()
            result["target"] = {**target.describe(), "server_cores": server_cores}
            result["client_cores"] = client_cores
    finally:
        os.sched_setaffinity(0, original)
    return result


async def _run(
    generator: str, argv: list[str], cwd: Path, config: dict[str, Any], scenario: Scenario
) -> dict[str, Any]:
    within = JOIN_TIMEOUT + scenario.settle + scenario.load_seconds + scenario.drain + SLACK
    with tempfile.TemporaryDirectory(prefix="liveclass-crosscheck-") as folder:
        config_path = Path(folder) / "config.json"
        result_path = Path(folder) / "result.json"
        config_path.write_text(json.dumps(config))  # room tokens: a private temporary folder
        process = await asyncio.create_subprocess_exec(
            *argv,
            str(config_path),
            str(result_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), within)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise RuntimeError(
                f"the {generator} load generator did not finish within {within:.0f} s"
            ) from None
        log = output.decode(errors="replace").strip()
        if process.returncode != 0 or not result_path.is_file():
            code = process.returncode
            raise RuntimeError(f"the {generator} load generator failed ({code}): {log}")
        result: dict[str, Any] = json.loads(result_path.read_text())
    result["log"] = log.splitlines()[-20:]
    return result
