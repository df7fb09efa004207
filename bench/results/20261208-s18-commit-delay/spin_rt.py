"""A Lua script's round trip to Redis after 20 ms of quiet, by a minimal protocol: awaited,
with the loop spinning until the reply (bounded to 2 ms), and spinning with sched_yield (so
that a Redis woken onto this core runs at once). Measurement only.

    taskset -c 0 .venv/bin/python bench/results/20261208-s18-commit-delay/spin_rt.py
"""

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

import hiredis
import uvloop


class Minimal(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: list[asyncio.Future[object]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            self.waiting.pop(0).set_result(reply)

    def call(self, *args: object) -> asyncio.Future[object]:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append(done)
        self.transport.write(hiredis.pack_command(args))  # type: ignore[attr-defined]
        return done


async def spin(reply: asyncio.Future[object], give_way: bool) -> object:
    deadline = time.perf_counter() + 0.002
    while not reply.done() and time.perf_counter() < deadline:
        if give_way:
            os.sched_yield()
        await asyncio.sleep(0)
    return await reply


async def main() -> None:
    loop = asyncio.get_running_loop()
    _, redis = await loop.create_connection(Minimal, "127.0.0.1", 6379)
    await redis.call("SELECT", 12)
    sha = await redis.call("SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])")
    modes: dict[str, Callable[[asyncio.Future[object]], Awaitable[object]]] = {
        "await": lambda reply: reply,
        "spin": lambda reply: spin(reply, False),
        "spin+yield": lambda reply: spin(reply, True),
    }
    for round_ in range(3):
        for name, mode in modes.items():
            took = []
            for _ in range(200):
                await asyncio.sleep(0.02)
                start = time.perf_counter()
                await mode(redis.call("EVALSHA", sha, 1, "rt:n"))
                took.append((time.perf_counter() - start) * 1e6)
            took.sort()
            p50, p90, p99 = took[100], took[180], took[198]
            print(f"round {round_ + 1} {name:11} p50 {p50:4.0f} p90 {p90:4.0f} p99 {p99:5.0f} us")


uvloop.run(main())
