"""A busy neighbour: a process spinning on the SFU's core, so the SFU gets about half of it.

``liveclass-bench media --busy-neighbour`` runs one for each target's whole run: what an SFU
does on a shared or throttled core (a noisy neighbour on a cloud host) shows in its frame
loss and delay, next to its CPU per packet. The process is this Python spinning in a loop,
pinned to the given cores; it is killed on exit, also on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator

__all__ = ["busy_neighbour"]


@contextlib.asynccontextmanager
async def busy_neighbour(cores: list[int] | None) -> AsyncIterator[int]:
    """Spin on ``cores`` (None: anywhere) while the block runs; yields the process id."""
    chosen = set(cores) if cores else None

    def pin() -> None:
        if chosen:
            os.sched_setaffinity(0, chosen)

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "while True: pass",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        preexec_fn=pin,
    )
    try:
        yield process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
