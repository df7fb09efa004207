"""Delivering a room's reliable messages in ``seq`` order (no I/O; the clock is passed in).

Sequence numbers are handed out before a message is stored and published, so concurrent
senders (tasks of one node, or several nodes) can publish them out of order: seq 6 may reach
the bus before seq 5. Each node puts a room's messages back in order before fanning them out:
a message after a gap waits until the gap fills, or at most ``window`` seconds (a number may
never be published: a chat whose store failed was never acked), after which what waits goes
out in order and the gap is skipped. Live order then matches history order.

A number delivered once is not delivered again: a node delivers its own chat as soon as it is
published, and its echo from the bus comes after. What went out is read off ``expected`` (every
number from the first delivered here up to it went out) and two small sets for the exceptions:
numbers a skipped gap passed over, and numbers delivered out of that run (late after a skip,
before the first, or by a catch-up ahead of it). Both keep only the last ``remembered``
numbers: a number more than ``remembered`` behind ``expected`` counts as delivered, wherever
it fell. A busy room costs no memory per message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SeqOrder"]


@dataclass(slots=True)
class SeqOrder:
    window: float = 1.0
    max_waiting: int = 4096
    remembered: int = 4096
    #: The next seq to deliver; None until the first one is known.
    expected: int | None = None
    _waiting: dict[int, dict[str, Any]] = field(default_factory=dict)
    _since: float | None = None
    #: The first number delivered through this order (None: none yet).
    _first: int | None = None
    #: Numbers in [_first, expected) a skipped gap passed over, not delivered (yet).
    _passed: set[int] = field(default_factory=set)
    #: Numbers delivered outside [_first, expected): late ones before the first, and those a
    #: catch-up sent ahead of ``expected``.
    _outside: set[int] = field(default_factory=set)

    def start_at(self, seq: int) -> None:
        """The room opened here when ``seq`` was its last number: expect ``seq + 1``."""
        if self.expected is None:
            self.expected = seq + 1

    def seen(self, message: dict[str, Any]) -> bool:
        """Whether ``message``'s number was delivered or waits already (a repeat: dropped)."""
        seq = message.get("seq")
        return isinstance(seq, int) and (self.delivered(seq) or seq in self._waiting)

    def delivered(self, seq: int) -> bool:
        """Whether ``seq`` went out here (through this order, or :meth:`note_delivered`);
        a number older than the last ``remembered`` counts as delivered."""
        if seq in self._outside:
            return True
        if seq in self._passed:
            return False
        first, expected = self._first, self.expected
        if expected is not None and seq < expected - self.remembered:
            return True
        return first is not None and expected is not None and first <= seq < expected

    def push(self, message: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """Messages to deliver now, in order (``message`` among them, or held back; none
        when it was :meth:`seen`)."""
        seq = message.get("seq")
        if not isinstance(seq, int):
            return [message]
        if self.seen(message):
            return []
        if self.expected is None:
            self.expected = seq
        if seq < self.expected:
            self.note_delivered(seq)
            return [message]  # after a skipped gap: late, but not lost
        self._waiting[seq] = message
        out = self._drain()
        if self._waiting and self._since is None:
            self._since = now
        if len(self._waiting) > self.max_waiting:
            out += self.flush()
        return out

    @property
    def deadline(self) -> float | None:
        """When what waits must go out anyway (None when nothing waits)."""
        return None if self._since is None else self._since + self.window

    def expire(self, now: float) -> list[dict[str, Any]]:
        """Past the deadline: skip the gap and deliver what waits."""
        if self._since is None or now < self._since + self.window:
            return []
        return self.flush()

    def flush(self) -> list[dict[str, Any]]:
        """Everything waiting, in order, skipping the gaps before it."""
        if not self._waiting:
            return []
        following = min(self._waiting)
        if self.expected is not None:
            self._pass(self.expected, following)
        self.expected = following
        return self._drain(skip=True)

    def skip_to(self, seq: int) -> None:
        """Messages up to ``seq`` were delivered another way (a catch-up)."""
        if self.expected is None or self.expected <= seq:
            if self.expected is not None:
                self._pass(self.expected, seq + 1)
            self.expected = seq + 1
        for old in [s for s in self._waiting if s <= seq]:
            del self._waiting[old]
        if not self._waiting:
            self._since = None

    def _drain(self, *, skip: bool = False) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        assert self.expected is not None
        while self._waiting:
            message = self._waiting.pop(self.expected, None)
            if message is None:
                if not skip:
                    break
                following = min(self._waiting)
                self._pass(self.expected, following)
                self.expected = following
                continue
            out.append(message)
            if self._first is None:
                self._first = self.expected
            self.expected += 1
        if out or not self._waiting:
            self._since = None  # a new wait (if any) starts at the next push
        return out

    def note_delivered(self, seq: int) -> None:
        """``seq`` went out here another way (a catch-up after a bus loss, or late)."""
        first, expected = self._first, self.expected
        if first is not None and expected is not None and first <= seq < expected:
            self._passed.discard(seq)
        else:
            self._outside.add(seq)
            self._forget(self._outside)

    def _pass(self, start: int, stop: int) -> None:
        """Numbers ``start`` to ``stop - 1`` go by undelivered (a gap skipped; those a
        catch-up sent are in ``_outside``, which :meth:`delivered` asks first)."""
        if self._first is None or stop <= start:
            return  # before the first delivery: not delivered without being noted
        self._passed.update(range(max(start, stop - self.remembered), stop))
        self._forget(self._passed)

    def _forget(self, numbers: set[int]) -> None:
        """Keep ``numbers`` within the last ``remembered`` (:meth:`delivered` counts older
        ones as delivered)."""
        if len(numbers) > self.remembered and self.expected is not None:
            oldest = self.expected - self.remembered
            numbers.difference_update([s for s in numbers if s < oldest])
