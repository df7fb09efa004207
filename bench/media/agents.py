"""The orchestrator's side of a load-generator process (:mod:`bench.media.agent`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import deque
from typing import Any

from bench.targets import REPO

__all__ = ["Agent"]


class Agent:
    """One ``python -m bench.media.agent`` child: send commands, await its events."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.log: deque[str] = deque(maxlen=60)
        assert process.stderr is not None
        self._pump = asyncio.create_task(self._read_stderr(process.stderr))

    @classmethod
    async def start(cls, name: str, job: dict[str, Any]) -> Agent:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.media.agent",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=REPO,
            limit=2**26,
        )
        agent = cls(name, process)
        await agent._write(job)
        return agent

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.log.append(line.decode(errors="replace").rstrip())

    async def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        await self.process.stdin.drain()

    async def expect(self, event: str, within: float) -> dict[str, Any]:
        """The next message, which must be ``event``."""
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            line = await self.process.stdout.readline()
        if not line:
            tail = "\n".join(self.log)
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{tail}")
        message: dict[str, Any] = json.loads(line)
        if message.get("event") != event:
            raise RuntimeError(f"{self.name}: expected {event}, got {message.get('event')}")
        return message

    async def mark(self, within: float = 30) -> dict[str, Any]:
        return await self.command({"cmd": "mark"}, "mark", within)

    async def command(
        self, message: dict[str, Any], event: str, within: float = 30
    ) -> dict[str, Any]:
        """Send ``message``; its answer must be ``event``."""
        await self._write(message)
        return await self.expect(event, within)

    async def stop(self, within: float = 60) -> dict[str, Any]:
        await self._write({"cmd": "stop"})
        result = await self.expect("result", within)
        await self.close()
        return result

    async def close(self, grace: float = 20) -> None:
        """Make sure the process is gone (stdin closed, then SIGTERM, then SIGKILL)."""
        if self.process.stdin is not None:
            with contextlib.suppress(Exception):
                self.process.stdin.close()
        if self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.terminate()
                try:
                    await asyncio.wait_for(self.process.wait(), 5)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        self.process.kill()
                    await self.process.wait()
        self._pump.cancel()
        await asyncio.gather(self._pump, return_exceptions=True)
