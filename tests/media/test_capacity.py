"""What a media worker admits, from what it measures (event-loop lag, CPU): the monitor with
clocks the test moves, and a worker that measures itself overloaded sending the next
participants to another worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from api.services import Services
from media.capacity import LoadMonitor, run_queue_wait
from media.worker import MediaWorker
from rooms.media_registry import MediaRegistry
from signaling.hub import Hub
from tests.conftest import People, bearer
from tests.media.hub_peers import HubPeer, join, pid, teacher_and_student


class Clocks:
    """Wall and CPU time, and time spent waiting for a CPU, moved by the test."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 10.0
        self.wait = 5.0

    def spend(self, seconds: float, utilisation: float, waiting: float = 0.0) -> None:
        self.wall += seconds
        self.cpu += seconds * utilisation
        self.wait += seconds * waiting


def monitor(clocks: Clocks, **options: Any) -> LoadMonitor:
    options.setdefault("ceiling", 150)
    options.setdefault("smoothing", 1.0)
    # the test samples by hand: a worker's own sampling loop must not run meanwhile
    options.setdefault("interval", 3600.0)
    return LoadMonitor(
        clock=lambda: clocks.wall,
        cpu_clock=lambda: clocks.cpu,
        wait_clock=lambda: clocks.wait,
        **options,
    )


def test_capacity_follows_the_measured_cpu_per_subscriber() -> None:
    clocks = Clocks()
    load = monitor(clocks)
    assert load.capacity(40) == 150  # nothing measured yet: the configured ceiling
    load.sample(lag=0.0)
    clocks.spend(0.5, 0.2)
    load.sample(lag=0.001)
    assert load.utilisation == pytest.approx(0.2)
    assert load.capacity(40) == 150  # 40 x 0.8 / 0.2 = 160: the ceiling bounds it
    clocks.spend(0.5, 0.4)
    load.sample(lag=0.001)
    assert load.capacity(40) == 80
    # too few subscribers to scale from: as if it had min_sample (5 x 0.8 / 0.4)
    assert load.capacity(3) == 10
    # a starved loop (half a core, a busy neighbour) admits no more than it has
    clocks.spend(0.5, 0.4)
    load.sample(lag=0.2)
    assert load.overloaded
    assert load.capacity(40) == 40
    # so does a core used beyond the target
    clocks.spend(0.5, 0.95)
    load.sample(lag=0.0)
    assert load.capacity(12) == 12


def test_on_a_shared_core_the_time_spent_waiting_for_it_counts() -> None:
    """Half a core (a busy loop beside the worker): its CPU time cannot pass 0.5, far below
    the 0.8 target, but it is runnable most of the time; that is what fills it."""
    clocks = Clocks()
    load = monitor(clocks)
    load.sample(lag=0.0)
    clocks.spend(0.5, 0.2, waiting=0.1)  # 20 subscribers: runnable 30 % of the time
    load.sample(lag=0.002)
    assert load.utilisation == pytest.approx(0.3)
    assert load.waiting == pytest.approx(0.1)
    assert load.capacity(20) == 53  # 20 x 0.8 / 0.3, not 20 x 0.8 / 0.2 = 80
    clocks.spend(0.5, 0.45, waiting=0.4)  # CPU time alone would say "room for more"
    load.sample(lag=0.004)
    assert load.overloaded
    assert load.capacity(45) == 45


def test_the_run_queue_wait_of_this_process_is_read() -> None:
    """Where the kernel keeps schedstat (Linux), a number of seconds that only grows."""
    first = run_queue_wait()
    assert first >= 0.0
    assert run_queue_wait() >= first


def test_samples_are_smoothed() -> None:
    clocks = Clocks()
    load = monitor(clocks, smoothing=0.5)
    load.sample(lag=0.0)
    clocks.spend(0.5, 0.2)
    load.sample(lag=0.0)
    clocks.spend(0.5, 1.0)  # one slow pass
    load.sample(lag=0.2)
    assert load.utilisation == pytest.approx(0.6)
    assert load.lag == pytest.approx(0.1)


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="ceiling"):
        LoadMonitor(ceiling=0)


async def test_the_monitor_samples_the_running_loop() -> None:
    load = LoadMonitor(ceiling=10, interval=0.01)
    load.start()
    try:
        for _ in range(200):
            if load.utilisation is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        await load.close()
    assert load.lag is not None
    assert load.utilisation is not None


@pytest.mark.parametrize("backend", ["services"], indirect=True)
async def test_an_overloaded_worker_sends_the_next_participants_to_another(
    client: httpx.AsyncClient,
    people: People,
    new_session: Any,
    start_hub: Callable[[str], Awaitable[Hub]],
    start_worker: Callable[..., Awaitable[MediaWorker]],
    peers: list[HubPeer],
    services: Services,
) -> None:
    clocks = Clocks()
    load = monitor(clocks)
    hub = await start_hub("node-a")
    origin = await start_worker("worker-a", load=load)
    other = await start_worker("worker-b")
    sid = (await new_session(start=True, maxParticipants=10))["id"]
    _teacher, first = await teacher_and_student(client, hub, sid, people, peers)
    assert set(origin.rooms) == {sid}
    await first.until(lambda: first.video_frames >= 5, 90)

    # worker-a's loop falls behind (say, its core is shared with a busy loop)
    load.sample(lag=0.0)
    clocks.spend(0.5, 0.5)
    load.sample(lag=0.3)
    assert origin.capacity() == origin.subscribers == 2
    late = HubPeer(await join(client, hub, sid, bearer("late")))
    peers.append(late)
    await late.until(lambda: late.video_frames >= 5, 90)
    registry = MediaRegistry(services.redis)
    assert await registry.assignment(sid, pid(late.client)) == other.worker_id
    assert await registry.assignment(sid, pid(first.client)) == origin.worker_id
    # worker-a now also sends to the relay, a connection that is no participant: it still
    # admits nobody more (it used to count that connection as room for one)
    assert origin.subscribers == 3
    assert origin.capacity() == 2
    later = HubPeer(await join(client, hub, sid, bearer("later")))
    peers.append(later)
    await later.until(lambda: later.video_frames >= 5, 90)
    assert await registry.assignment(sid, pid(later.client)) == other.worker_id
