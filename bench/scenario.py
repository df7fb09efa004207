"""The workloads: join storm, class, many rooms, slow consumers, resume storm.

A :class:`Scenario` says how many rooms and clients, the offered chat load as a list of steps
(messages per second into each room, for so many seconds), and what else happens: presence
churn, slow consumers, a resume storm. :func:`preset` gives each named scenario its defaults;
any field can be overridden from the command line.

Offered load: every chat message goes to everyone in its room (the sender included), so a
room of ``n`` clients at ``r`` messages per second offers ``r x n`` deliveries per second.
Messages are sent by several clients of the room (``senders``), evenly spaced in time, so no
client exceeds ``sender_rate`` messages per second (liveclass allows 2 per second per
connection by default).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = ["SCENARIOS", "Scenario", "Step", "parse_steps", "preset"]

SCENARIOS = ("join", "class", "rooms", "slow", "resume")


@dataclass(frozen=True)
class Step:
    """``rate`` chat messages per second into every room, for ``seconds``."""

    rate: float
    seconds: float


@dataclass(frozen=True)
class Scenario:
    name: str
    clients: int  # per room, the host included
    rooms: int = 1
    steps: tuple[Step, ...] = ()
    sender_rate: float = 1.5
    text_bytes: int = 48
    churn: float = 0.0  # leave-and-rejoin per second, over all rooms
    slow: int = 0  # slow consumers per room
    slow_interval: float = 0.5  # a slow consumer reads one frame per this many seconds
    resume_at: float | None = None  # seconds after the load starts: everyone drops, resumes
    codec: str = "json"
    settle: float = 1.0  # idle seconds after the joins (presence settles, RSS is read)
    drain: float = 3.0  # at most this long after the last step for messages in flight
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_clients(self) -> int:
        return self.clients * self.rooms

    @property
    def max_rate(self) -> float:
        return max((s.rate for s in self.steps), default=0.0)

    @property
    def senders(self) -> int:
        """Senders per room: enough that none exceeds ``sender_rate``."""
        if not self.steps:
            return 0
        wanted = max(1, math.ceil(self.max_rate / self.sender_rate))
        return min(wanted, self.clients - self.slow)

    @property
    def load_seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def step_bounds(self) -> list[tuple[float, float]]:
        """(start, end) of every step, in seconds after the load starts."""
        out, t = [], 0.0
        for step in self.steps:
            out.append((t, t + step.seconds))
            t += step.seconds
        return out

    def offered_deliveries(self, step: Step) -> float:
        return step.rate * self.clients * self.rooms

    def validate(self) -> None:
        if self.name not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.name!r}; one of {', '.join(SCENARIOS)}")
        if self.clients < 1 or self.rooms < 1:
            raise ValueError("clients and rooms must be at least 1")
        if self.slow >= self.clients:
            raise ValueError("some clients of a room must not be slow")
        if self.steps and self.senders < 1:
            raise ValueError("no client left to send")
        if self.sender_rate <= 0 or self.text_bytes < 16:
            raise ValueError("sender_rate must be positive and text_bytes at least 16")
        if any(s.rate < 0 or s.seconds <= 0 for s in self.steps):
            raise ValueError("steps need a rate >= 0 and a duration > 0")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = [asdict(s) for s in self.steps]
        data["senders"] = self.senders
        data["total_clients"] = self.total_clients
        return data


def parse_steps(text: str) -> tuple[Step, ...]:
    """``"5x10,20x10"`` (messages per second per room x seconds) into steps."""
    steps = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        rate, _, seconds = part.partition("x")
        steps.append(Step(float(rate), float(seconds or 5)))
    return tuple(steps)


def preset(name: str, **overrides: Any) -> Scenario:
    """The named scenario with its defaults, then ``overrides`` (None values are ignored)."""
    base = {
        "join": Scenario("join", clients=500, steps=(Step(1, 2),), settle=0.5),
        "class": Scenario(
            "class",
            clients=101,
            steps=(Step(5, 5), Step(10, 5), Step(20, 5)),
            churn=1.0,
        ),
        "rooms": Scenario("rooms", clients=20, rooms=10, steps=(Step(2, 5), Step(5, 5))),
        "slow": Scenario("slow", clients=100, slow=10, steps=(Step(10, 10),)),
        "resume": Scenario("resume", clients=100, steps=(Step(5, 12),), resume_at=4.0),
    }.get(name)
    if base is None:
        raise ValueError(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")
    chosen = {k: v for k, v in overrides.items() if v is not None}
    scenario = replace(base, **chosen)
    scenario.validate()
    return scenario
