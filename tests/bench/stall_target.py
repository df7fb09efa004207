"""Run by tests/bench/test_stalls.py under bench/servers/stalls.py: an event loop that stalls
once inside the recording (SIGUSR1 to SIGUSR2) and once after it."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time


def busy_for(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def main() -> None:
    os.kill(os.getpid(), signal.SIGUSR1)
    await asyncio.sleep(0.05)
    busy_for(0.2)
    await asyncio.sleep(0.05)
    gc.collect()
    await asyncio.sleep(0.05)
    os.kill(os.getpid(), signal.SIGUSR2)
    await asyncio.sleep(0.05)
    busy_for(0.2)
    await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())
