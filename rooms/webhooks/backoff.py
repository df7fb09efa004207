"""When to retry a failed webhook delivery: exponential backoff with jitter, then give up.

Attempt ``n`` (1-based) that failed is retried after ``min(cap, base * 2**(n-1))`` seconds,
of which the upper half is random ("equal jitter": at least half the nominal delay, so a
receiver that is down is not hammered, and spread so that many deliveries failing together do
not retry together). After ``max_attempts`` attempts the delivery is dead. With the defaults
(10 s base, 1 h cap, 20 attempts) a receiver that stays down is retried for about 6 to 11 hours:
10 s, 20 s, 40 s, ... 43 min, then hourly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff"]

_RANDOM = random.Random()


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float = 10.0
    cap_seconds: float = 3600.0
    max_attempts: int = 20

    def nominal(self, attempt: int) -> float:
        """The delay after failed attempt ``attempt`` before jitter."""
        exponent = min(attempt - 1, 62)  # 2**62 is far past any cap; avoids float overflow
        return float(min(self.cap_seconds, self.base_seconds * 2.0**exponent))

    def delay(self, attempt: int, rng: Callable[[], float] = _RANDOM.random) -> float | None:
        """Seconds to wait after failed attempt ``attempt``, or None: give up (dead).

        ``rng`` returns a float in [0, 1) (tests pass a fixed one)."""
        if attempt >= self.max_attempts:
            return None
        nominal = self.nominal(attempt)
        return nominal / 2 + nominal / 2 * rng()
