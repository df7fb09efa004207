"""The result document (schema ``liveclass-bench/1``): checking, saving and loading it.

One run of one scenario against one target is one JSON document; ``compare`` also writes a
document ``{"schema": "liveclass-bench-compare/1", "results": [...]}`` holding every target's.
The fields every result has, with their types, are :data:`REQUIRED`; ``steps`` and
``timeline`` entries have :data:`STEP_FIELDS` and :data:`TIMELINE_FIELDS`. Latency summaries
are ``{count, mean, p50, p95, p99, max}`` in milliseconds (``None`` when nothing was measured).
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "COMPARE_SCHEMA",
    "REQUIRED",
    "SCHEMA",
    "STEP_FIELDS",
    "TIMELINE_FIELDS",
    "command_line",
    "load_results",
    "machine_info",
    "package_version",
    "save",
    "stamp",
    "validate",
]

SCHEMA = "liveclass-bench/1"
COMPARE_SCHEMA = "liveclass-bench-compare/1"

_num = (int, float)
_opt_num = (int, float, type(None))

REQUIRED: dict[str, tuple[type, ...]] = {
    "schema": (str,),
    "label": (str,),
    "target": (dict,),
    "scenario": (dict,),
    "machine": (dict,),
    "started_at": (str,),
    "duration_s": _num,
    "clients": (dict,),
    "join": (dict,),
    "steps": (list,),
    "latency_ms": (dict,),
    "deliveries": (int,),
    "max_deliveries_per_s": _opt_num,
    "server": (dict,),
    "client": (dict,),
    "errors": (dict,),
    "unexpected_errors": (int,),
    "closes": (dict,),
    "timeline": (list,),
    "histogram": (dict,),
}
STEP_FIELDS: dict[str, tuple[type, ...]] = {
    "rate": _num,
    "offered_deliveries_per_s": _num,
    "sent": (int,),
    "deliveries": (int,),
    "deliveries_per_s": _opt_num,
    "latency_ms": (dict,),
    "server_cpu_us_per_delivery": _opt_num,
    "client_cpu_pct": _opt_num,
}
TIMELINE_FIELDS: dict[str, tuple[type, ...]] = {
    "t": (int,),
    "deliveries": (int,),
    "p50_ms": _opt_num,
    "p99_ms": _opt_num,
}
LATENCY_FIELDS = ("count", "p50", "p95", "p99", "max")
SERVER_FIELDS = ("rss_per_connection_bytes", "cpu_s", "cpu_us_per_delivery")


def _check(data: dict[str, Any], fields: dict[str, tuple[type, ...]], where: str) -> list[str]:
    problems = []
    for name, types in fields.items():
        if name not in data:
            problems.append(f"{where}: missing {name}")
        elif not isinstance(data[name], types) or isinstance(data[name], bool):
            problems.append(f"{where}: {name} is {type(data[name]).__name__}")
    return problems


def validate(result: Any) -> list[str]:
    """What is wrong with ``result`` as a result document (empty when nothing is)."""
    if not isinstance(result, dict):
        return ["a result is a JSON object"]
    problems = _check(result, REQUIRED, "result")
    if problems:
        return problems
    if result["schema"] != SCHEMA:
        problems.append(f"result: schema is {result['schema']!r}, not {SCHEMA!r}")
    for i, step in enumerate(result["steps"]):
        problems += _check(step, STEP_FIELDS, f"steps[{i}]")
    for i, point in enumerate(result["timeline"]):
        problems += _check(point, TIMELINE_FIELDS, f"timeline[{i}]")
    for name in LATENCY_FIELDS:
        if name not in result["latency_ms"]:
            problems.append(f"latency_ms: missing {name}")
    for name in SERVER_FIELDS:
        if name not in result["server"]:
            problems.append(f"server: missing {name}")
    for key in ("ok", "failed", "total_s", "latency_ms"):
        if key not in result["join"]:
            problems.append(f"join: missing {key}")
    return problems


def command_line() -> str:
    """How this ``liveclass-bench`` run was started, for its result document."""
    return "liveclass-bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def save(document: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    return path


def load_results(paths: list[Path]) -> list[dict[str, Any]]:
    """Every result in the given files (single results or compare documents)."""
    out: list[dict[str, Any]] = []
    for path in paths:
        data = json.loads(path.read_text())
        items = data["results"] if data.get("schema") == COMPARE_SCHEMA else [data]
        for item in items:
            problems = validate(item)
            if problems:
                raise ValueError(f"{path}: not a bench result: {'; '.join(problems[:5])}")
            out.append(item)
    return out


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    import os

    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "memory_bytes": _memory(),
        "versions": {
            name: package_version(name)
            for name in ("liveclass", "websockets", "uvicorn", "python-socketio", "msgpack")
        },
    }


def _memory() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        return None
