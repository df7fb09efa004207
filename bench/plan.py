"""Who does what: one :class:`ClientSpec` per simulated client, and when senders send.

In every room, client 0 is the host (for liveclass: the instructor's connection), clients
``0 .. senders-1`` send chat, and the last ``slow`` clients are slow consumers. Clients are
dealt round-robin to the load-generator processes so each gets its share of senders.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bench.scenario import Scenario

__all__ = ["ClientSpec", "build_plan", "deal", "send_times"]


@dataclass(frozen=True)
class ClientSpec:
    index: int
    room: int
    url: str
    resumable: bool  # reconnects carry resume= and lastSeq= (liveclass)
    host: bool
    sender_slot: int | None
    slow: bool

    @property
    def group(self) -> str:
        return "slow" if self.slow else "healthy"


def build_plan(scenario: Scenario, urls: list[list[str]], *, resumable: bool) -> list[ClientSpec]:
    """Specs for ``urls[room][i]`` (one URL per client of each room)."""
    if len(urls) != scenario.rooms or any(len(r) != scenario.clients for r in urls):
        raise ValueError("one URL per client of every room is needed")
    senders = scenario.senders
    specs: list[ClientSpec] = []
    for room, room_urls in enumerate(urls):
        for i, url in enumerate(room_urls):
            specs.append(
                ClientSpec(
                    index=len(specs),
                    room=room,
                    url=url,
                    resumable=resumable,
                    host=i == 0,
                    sender_slot=i if i < senders else None,
                    slow=i >= scenario.clients - scenario.slow,
                )
            )
    return specs


def deal(specs: list[ClientSpec], processes: int) -> list[list[ClientSpec]]:
    """Split the clients over ``processes`` load generators, round-robin."""
    processes = max(1, min(processes, len(specs)))
    return [specs[i::processes] for i in range(processes)]


def send_times(scenario: Scenario, room: int, slot: int) -> Iterator[tuple[float, int]]:
    """(seconds after the load starts, step index) of every message sender ``slot`` of
    ``room`` sends: the room's messages are evenly spaced and dealt to its senders in turn."""
    senders = scenario.senders
    for index, (step, (start, end)) in enumerate(
        zip(scenario.steps, scenario.step_bounds(), strict=True)
    ):
        if step.rate <= 0:
            continue
        gap = 1.0 / step.rate
        offset = (0.25 + 0.5 * room / scenario.rooms) * gap  # rooms interleave; S x R each
        k = slot
        while True:
            t = start + offset + k * gap
            if t >= end:
                break
            yield t, index
            k += senders
