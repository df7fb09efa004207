"""Profiling a media worker during the measured window, with py-spy (sampling, external).

``py-spy record --pid <worker> --format raw`` writes collapsed stacks (``a;b;c <count>``);
they are summed into the functions where the worker spends its time: *self* (the leaf of a
sample: where the CPU actually was) and *inclusive* (anywhere on the stack), each as a share
of the samples. A flame graph (SVG) is written next to them. Only idle-excluded samples are
kept (py-spy's default), so the shares are of the time the worker was busy.

py-spy is not a dependency: ``pip install py-spy`` (it needs ptrace rights on the worker).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["Profiler", "summarize_collapsed"]

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*?)(?::\d+)?\)$")
_TOP = 25


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` → ``func (module.py)``."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    parts = path.split("/")
    where = "/".join(parts[-2:]) if "site-packages" in path or len(parts) > 1 else path
    return f"{match.group('func')} ({where})"


def summarize_collapsed(text: str, top: int = _TOP) -> dict[str, Any]:
    """Self and inclusive shares of the samples in collapsed-stack ``text``."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": f, "pct": round(100.0 * c / total, 1)} for f, c in counter.most_common(top)
        ]

    return {"samples": total, "self": share(self_counts), "inclusive": share(inclusive)}


class Profiler:
    def __init__(self, tool: str, out: Path) -> None:
        if tool != "py-spy":
            raise ValueError(f"unknown profiler {tool!r} (py-spy)")
        exe = shutil.which("py-spy")
        if exe is None:
            raise RuntimeError("--profile py-spy needs py-spy on PATH (pip install py-spy)")
        self._exe = exe
        self._out = out
        self._processes: list[asyncio.subprocess.Process] = []
        self._files: list[Path] = []
        self._pid = 0

    async def start(self, pid: int, duration: float) -> None:
        self._out.mkdir(parents=True, exist_ok=True)
        self._pid = pid
        seconds = str(max(1, int(duration)))
        for fmt, suffix in (("raw", "txt"), ("flamegraph", "svg")):
            path = self._out / f"worker-{pid}.{suffix}"
            self._files.append(path)
            self._processes.append(
                await asyncio.create_subprocess_exec(
                    self._exe,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    seconds,
                    "--rate",
                    "200" if fmt == "raw" else "50",
                    "--nonblocking",
                    "--format",
                    fmt,
                    "--output",
                    str(path),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
            )

    async def finish(self) -> dict[str, Any]:
        errors = []
        for process in self._processes:
            try:
                _, err = await asyncio.wait_for(process.communicate(), 60)
            except TimeoutError:
                process.kill()
                _, err = await process.communicate()
            if process.returncode:
                errors.append(err.decode(errors="replace")[-400:])
        raw, svg = self._files
        summary: dict[str, Any] = {"tool": "py-spy", "pid": self._pid, "errors": errors}
        if raw.is_file():
            summary.update(summarize_collapsed(raw.read_text()))
            summary["raw"] = str(raw)
        if svg.is_file():
            summary["flamegraph"] = str(svg)
        return summary
