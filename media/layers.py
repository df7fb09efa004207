"""Adaptive quality: which layer of a layered camera each subscriber gets.

A publisher may send its camera twice, as separate encodings on separate m-lines (a low layer,
320x180 at ~150 kbps in the classroom, and the full-size high layer): aiortc cannot receive
RID-based simulcast (it negotiates neither ``a=rid`` nor ``a=simulcast``), so each layer is an
ordinary track and the offer signal names which m-line is which (``layers``). The publisher
joins them into one :class:`media.forwarding.TrackFanout` whose ``layers`` list them, lowest
first; subscribers get one m-line for it, and :class:`media.forwarding.ForwardedTrack` switches
between layers at keyframes, rewriting sequence numbers, timestamps and picture ids so the
subscriber sees one continuous stream.

:class:`LayerSelector` decides, per subscriber connection, a *level* (0 is every track's lowest
layer; a track with fewer layers uses its highest one at or below the level) from what that
subscriber's RTCP tells (sans-I/O; the clock is injected):

- **down** when the subscriber is congested: a loss of 10 % or more in its last report (the
  subscriber passes the larger of the receiver report's fraction lost and the share of
  packets NACKed), or two REMB estimates in a row below 70 % of what the current level
  sends. It goes straight to the highest level the estimate covers (with 15 % headroom), at
  least one down.
  REMB does not count for ``remb_settle`` seconds after a switch up: a receiver's estimate
  grows by about 8 % a second, so right after a switch it is still sized for the lower layer.
- **up** by probing: a REMB estimate cannot tell that a link would carry more than it carries
  (receivers cap it near 1.5 times what they get), so after ``probe_after`` seconds without
  congestion the selector tries the next level. Congestion during the following ``trial``
  seconds (a loss of 3 % is enough then) sends it back down and doubles the wait (up to
  ``max_probe_after``); a trial that passes resets the wait. LiveKit and mediasoup probe
  with padding instead; a failed trial costs a weak link a second of congestion and the
  receiver's recovery from the packets it lost (a keyframe), every ``max_probe_after``
  seconds at worst.

:class:`RateMeter` measures what a track sends (bits per second over about a second).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["LayerSelector", "RateMeter", "SelectorConfig"]

#: Layer names a publisher may give in the offer signal, lowest first.
LAYER_NAMES = ("low", "high")


class RateMeter:
    """Bits per second of what passes through, averaged over about ``window`` seconds."""

    def __init__(self, window: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._start = clock()
        self._bytes = 0
        self.bps = 0.0

    def add(self, size: int) -> None:
        self._bytes += size
        now = self._clock()
        elapsed = now - self._start
        if elapsed >= self._window:
            rate = self._bytes * 8 / elapsed
            # the first window counts in full; later ones are smoothed
            self.bps = rate if self.bps == 0 else 0.5 * self.bps + 0.5 * rate
            self._start = now
            self._bytes = 0


@dataclass(frozen=True, slots=True)
class SelectorConfig:
    """The selector's thresholds (seconds, fractions)."""

    loss_threshold: float = 0.10
    trial_loss_threshold: float = 0.03
    remb_ratio: float = 0.70
    headroom: float = 0.85
    probe_after: float = 6.0
    max_probe_after: float = 30.0
    trial: float = 3.0
    remb_settle: float = 12.0
    congested_signals: int = 2


class LayerSelector:
    """The level one subscriber connection receives (see the module docstring).

    Call :meth:`feedback` with each RTCP signal; it returns the level to use from now on.
    ``levels`` is the bits per second the subscriber's layered video would take at each level.
    """

    def __init__(
        self,
        config: SelectorConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config or SelectorConfig()
        self._clock = clock
        #: The chosen level; starts high (None: the top of whatever is there).
        self.level: int | None = None
        self._changed_at = clock()
        self._probe_after = self._config.probe_after
        self._trial_until: float | None = None
        self._up_at: float | None = None
        self._remb_low = 0
        self.switches_down = 0
        self.switches_up = 0
        self.last_remb: float | None = None
        self.last_loss: float | None = None

    @property
    def in_trial(self) -> bool:
        """Trying a higher level (the first ``trial`` seconds after going up)."""
        return self._trial_until is not None and self._clock() < self._trial_until

    def feedback(
        self, levels: Sequence[float], *, loss: float | None = None, remb: float | None = None
    ) -> int:
        """One RTCP signal: a receiver report's fraction lost (0..1) or a REMB estimate (bits
        per second). Returns the level (0 … ``len(levels) - 1``)."""
        config = self._config
        top = max(len(levels) - 1, 0)
        level = top if self.level is None else min(self.level, top)
        now = self._clock()
        remb_counts = self._up_at is None or now - self._up_at >= config.remb_settle
        if loss is not None:
            self.last_loss = loss
        if remb is not None:
            self.last_remb = remb
            low = remb_counts and bool(levels) and remb < config.remb_ratio * levels[level]
            self._remb_low = self._remb_low + 1 if low else 0
        threshold = (
            config.loss_threshold if self._trial_until is None else config.trial_loss_threshold
        )
        lossy = self.last_loss is not None and self.last_loss >= threshold
        congested = lossy or self._remb_low >= config.congested_signals
        if self._trial_until is not None and now >= self._trial_until and not congested:
            self._trial_until = None  # the trial passed
            self._probe_after = config.probe_after
        if congested and level > 0:
            target = level - 1
            if self.last_remb is not None and remb_counts:
                fits = [i for i in range(level) if levels[i] <= config.headroom * self.last_remb]
                target = max(fits) if fits else 0
            if self._trial_until is not None:  # the probe failed: wait longer next time
                self._probe_after = min(2 * self._probe_after, config.max_probe_after)
                self._trial_until = None
            level = target
            self._changed_at = now
            self._remb_low = 0
            self.last_loss = None
            self.switches_down += 1
        elif (
            not congested
            and self._remb_low == 0
            and level < top
            and now - self._changed_at >= self._probe_after
        ):
            level += 1
            self._changed_at = now
            self._trial_until = now + config.trial
            self._up_at = now
            self.switches_up += 1
        self.level = level
        return level
