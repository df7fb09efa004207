"""One Lua script's round trip to Redis after the process was idle for 20 ms (as a hub is
between chat messages at 20 messages/s), by four paths, in rounds:

- redis-py's script call (pool checkout, StreamReader, read_response);
- RedisBatch of the tree given (``rooms/redis_batch.py``: at b2512f2..5242574 through the
  pool; from session 17 through its RedisPipe, the command sent from the caller's task);
- RedisPipe.exchange alone (when the tree has rooms/redis_pipe.py);
- a minimal asyncio.Protocol with a hiredis reader (the floor for a Python client).

    taskset -c 0 .venv/bin/python bench/results/20261207-s17-pipe/round_trip.py TREE [REDIS_URL]
"""

import asyncio
import sys
import time

import hiredis
import redis.asyncio as redis
import uvloop

sys.path.insert(0, sys.argv[1])
from rooms.redis_batch import RedisBatch

URL = sys.argv[2] if len(sys.argv) > 2 else "redis://127.0.0.1:6379/12"
SCRIPT = "return redis.call('incr', KEYS[1])"


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


async def main() -> None:
    client = redis.Redis.from_url(URL)
    script = client.register_script(SCRIPT)
    await script(keys=["rt:n"])
    batch = RedisBatch(client)
    kwargs = client.connection_pool.connection_kwargs
    _, minimal = await asyncio.get_running_loop().create_connection(
        Minimal, kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379)
    )
    await minimal.call("SELECT", kwargs.get("db", 0))
    paths = {
        "redis-py script": lambda: script(keys=["rt:n"]),
        "RedisBatch": lambda: batch.script(script, ["rt:n"], []),
        "minimal protocol": lambda: minimal.call("EVALSHA", script.sha, 1, "rt:n"),
    }
    try:
        from rooms.redis_pipe import RedisPipe

        pipe = await RedisPipe.open(client)
        paths["RedisPipe"] = lambda: pipe.exchange(
            [hiredis.pack_command(("EVALSHA", script.sha, 1, "rt:n"))], 1
        )
    except ImportError:
        pass
    for round_ in range(3):
        for name, call in paths.items():
            took = []
            for _ in range(150):
                await asyncio.sleep(0.02)
                start = time.perf_counter()
                await call()
                took.append(time.perf_counter() - start)
            took.sort()
            p50, p90 = took[75] * 1e6, took[135] * 1e6
            print(f"round {round_ + 1} {name:17} p50 {p50:4.0f} µs  p90 {p90:4.0f} µs")


uvloop.run(main())
