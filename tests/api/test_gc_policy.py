"""``liveclass serve`` freezes its start-up heap once it listens, and collects the young
generation less often (``api/gc_policy.py``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
import uvicorn
from starlette.applications import Starlette

from api import server as server_module
from api.server import DrainingServer
from tests.api.serving import listening


def test_freezing_moves_what_lives_now_out_of_the_collectors_reach() -> None:
    # In a child process: a frozen heap stays frozen, and this one runs the other tests.
    code = (
        "import gc\n"
        "from api.gc_policy import YOUNG_THRESHOLD, freeze_startup_heap\n"
        "before = len(gc.get_objects())\n"
        "middle, oldest = gc.get_threshold()[1:]\n"
        "freeze_startup_heap()\n"
        "print(gc.get_freeze_count() >= before // 2, len(gc.get_objects()) < before // 2)\n"
        "print(gc.get_threshold() == (YOUNG_THRESHOLD, middle, oldest) != (700, 10, 10))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["True", "True", "True"]


@pytest.mark.parametrize("freeze", [True, False])
async def test_the_server_freezes_once_listening_when_asked(
    freeze: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(server_module, "freeze_startup_heap", lambda: calls.append(True))
    app = Starlette()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    server = DrainingServer(config, app, freeze_heap=freeze)
    async with listening(server) as serving:
        assert calls == ([True] if freeze else [])
        server.should_exit = True
        async with asyncio.timeout(30):
            await serving
