"""Adaptive quality: which layer of a layered camera each subscriber gets.

A publisher may send its camera twice, as separate encodings on separate m-lines (a low layer,
320x180 at ~150 kbps in the classroom, and the full-size high layer): aiortc cannot receive
RID-based simulcast (it negotiates neither ``a=rid`` nor ``a=simulcast``), so each layer is an
ordinary track and the offer signal names which m-line is which (``layers``). The publisher
joins them into one :class:`media.fanout.TrackFanout` whose ``layers`` list them, lowest
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
- **up** after probing the link with padding, when the connection can carry it (RTX
  negotiated; :meth:`LayerSelector.feedback` with ``can_probe``). A REMB estimate cannot tell
  that a link would carry more than it carries (receivers cap it near 1.5 times what they
  get), so after ``probe_after`` seconds without congestion the selector *probes*: the
  subscriber's connection sends padding-only RTX packets on top of the media, ramped over
  ``probe_ramp`` seconds from nothing to what makes the total ``probe_overshoot`` times what
  the next level sends, held for ``probe_hold`` seconds (:meth:`LayerSelector.probe_padding`
  tells the pacer how much). The probe fails at the first sign that the link does not carry
  it: a loss of ``trial_loss_threshold`` in the media, a loss of ``probe_loss_threshold`` in
  the padding (the receiver's report block for the RTX stream), a REMB estimate lower than
  the one before it (a receiver's estimate falls only when its delay-based detector sees the
  bottleneck's queue grow), or two round trips in a row ``probe_delay`` longer than the
  shortest since the probe began (the queue itself, seen in the receiver reports' LSR/DLSR;
  Chromium reports every ~0.2 s). The last two show before that queue drops anything. A
  failed probe stops the padding at once, keeps the level and doubles the wait (up to
  ``max_probe_after``): it costs the subscriber padding, not frames. A probe that lasted its
  ramp and hold and then gets a clean loss report passes: the level goes up. LiveKit and
  mediasoup probe the same way (padding, judged by feedback), with transport-wide
  congestion control; aiortc has none, so REMB and receiver reports judge here.
- After going up (probed or not), congestion during the following ``trial`` seconds (a
  loss of 3 % is enough then) sends it back down and doubles the wait; a trial that passes
  resets the wait. Without RTX (``can_probe`` false) the trial is the probe: a failed one
  costs a weak link a second of congestion and a keyframe.

:class:`RateMeter` measures what a track sends (bits per second over about a second).
"""

from __future__ import annotations

import time
from collections import deque
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
    """The selector's thresholds (seconds, fractions; see the module docstring)."""

    loss_threshold: float = 0.10
    trial_loss_threshold: float = 0.03
    remb_ratio: float = 0.70
    headroom: float = 0.85
    probe_after: float = 6.0
    max_probe_after: float = 30.0
    trial: float = 3.0
    remb_settle: float = 12.0
    congested_signals: int = 2
    probe_ramp: float = 4.0
    probe_hold: float = 2.0
    #: No loss report this long after the hold: the probe failed (a receiver that stopped
    #: reporting is no evidence).
    probe_verdict_wait: float = 3.0
    probe_overshoot: float = 1.15
    probe_loss_threshold: float = 0.05
    #: A REMB below this share of the one before it, during a probe: the link is overused.
    probe_remb_fall: float = 0.99
    #: Round trips this much longer than the shortest since the probe began (seconds), twice
    #: in a row: a queue is growing.
    probe_delay: float = 0.08


@dataclass(slots=True)
class _Probe:
    """A probe under way: since when, how much padding at full ramp, the last REMB."""

    started: float
    padding: float
    remb: float | None = None
    rtt_floor: float | None = None
    rtt_high: int = 0


class LayerSelector:
    """The level one subscriber connection receives (see the module docstring).

    Call :meth:`feedback` with each RTCP signal; it returns the level to use from now on.
    ``levels`` is the bits per second the subscriber's layered video would take at each level.
    While :attr:`probing`, the caller sends :meth:`probe_padding` bits per second of padding
    on the connection (asking again every few milliseconds: it ramps, and drops to 0 the
    moment a probe ends).
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
        self._probe: _Probe | None = None
        self.switches_down = 0
        self.switches_up = 0
        self.probes = 0
        self.probes_failed = 0
        #: Why probes failed: ``loss``, ``overuse``, ``delay``, ``padding loss``, ``no report``.
        self.probe_failures: dict[str, int] = {}
        #: The last few probes: (seconds it lasted, why it failed or None if it passed).
        self.probe_history: deque[tuple[float, str | None]] = deque(maxlen=16)
        self.last_remb: float | None = None
        self.last_loss: float | None = None
        self.last_rtt: float | None = None

    @property
    def in_trial(self) -> bool:
        """Trying a higher level (the first ``trial`` seconds after going up), or probing
        for one: loss counts from fewer packets then."""
        return self._probe is not None or (
            self._trial_until is not None and self._clock() < self._trial_until
        )

    @property
    def probing(self) -> bool:
        return self._probe is not None

    def probe_padding(self) -> float:
        """Bits per second of padding to send now (0: none; the probe ended or none runs)."""
        probe = self._probe
        if probe is None:
            return 0.0
        config = self._config
        elapsed = self._clock() - probe.started
        if elapsed >= config.probe_ramp + config.probe_hold + config.probe_verdict_wait:
            return 0.0
        ramp = 1.0 if config.probe_ramp <= 0 else min(1.0, elapsed / config.probe_ramp)
        return probe.padding * ramp

    def feedback(
        self,
        levels: Sequence[float],
        *,
        loss: float | None = None,
        remb: float | None = None,
        probe_loss: float | None = None,
        rtt: float | None = None,
        can_probe: bool = False,
    ) -> int:
        """One RTCP signal: a receiver report's fraction lost (0..1) for the media and, when
        the report covers the padding's RTX stream, for that (``probe_loss``), and the round
        trip it tells (``rtt``, seconds); or a REMB estimate (bits per second).
        ``can_probe``: the connection can send padding (RTX negotiated); without it the
        selector goes up by trial alone. Returns the level
        (0 … ``len(levels) - 1``)."""
        config = self._config
        top = max(len(levels) - 1, 0)
        level = top if self.level is None else min(self.level, top)
        now = self._clock()
        remb_counts = self._up_at is None or now - self._up_at >= config.remb_settle
        overused = delayed = False
        if loss is not None:
            self.last_loss = loss
        if rtt is not None:
            probe = self._probe
            if probe is not None:
                floor = rtt if probe.rtt_floor is None else min(probe.rtt_floor, rtt)
                probe.rtt_floor = floor
                probe.rtt_high = probe.rtt_high + 1 if rtt > floor + config.probe_delay else 0
                delayed = probe.rtt_high >= 2
            self.last_rtt = rtt
        if remb is not None:
            probe = self._probe
            if probe is not None:
                overused = probe.remb is not None and remb < config.probe_remb_fall * probe.remb
                probe.remb = remb
            self.last_remb = remb
            low = remb_counts and bool(levels) and remb < config.remb_ratio * levels[level]
            self._remb_low = self._remb_low + 1 if low else 0
        careful = self._trial_until is not None or self._probe is not None
        threshold = config.trial_loss_threshold if careful else config.loss_threshold
        lossy = self.last_loss is not None and self.last_loss >= threshold
        congested = lossy or self._remb_low >= config.congested_signals
        if self._trial_until is not None and now >= self._trial_until and not congested:
            self._trial_until = None  # the trial passed
            self._probe_after = config.probe_after
        if self._probe is not None:
            probe_lossy = probe_loss is not None and probe_loss >= config.probe_loss_threshold
            verdict_at = self._probe.started + config.probe_ramp + config.probe_hold
            if level >= top:
                self._probe = None  # the layers changed: nothing above to probe for
            elif congested or overused or delayed or probe_lossy:
                reason = (
                    "loss"
                    if congested
                    else "overuse"
                    if overused
                    else "delay"
                    if delayed
                    else "padding loss"
                )
                self._end_probe(now, failed=reason)
            elif now >= verdict_at + config.probe_verdict_wait:
                self._end_probe(now, failed="no report")  # no evidence
            elif now >= verdict_at and loss is not None:
                self._end_probe(now, failed=None)
                self.level = self._go_up(level, now)
                return self.level
        if congested and level > 0:
            target = level - 1
            if self.last_remb is not None and remb_counts:
                fits = [i for i in range(level) if levels[i] <= config.headroom * self.last_remb]
                target = max(fits) if fits else 0
            if self._trial_until is not None:  # the trial failed: wait longer next time
                self._probe_after = min(2 * self._probe_after, config.max_probe_after)
                self._trial_until = None
            level = target
            self._changed_at = now
            self._remb_low = 0
            self.last_loss = None
            self.switches_down += 1
        elif (
            not congested
            and self._probe is None
            and self._remb_low == 0
            and level < top
            and now - self._changed_at >= self._probe_after
        ):
            if can_probe and levels[level + 1] > levels[level]:
                gap = config.probe_overshoot * levels[level + 1] - levels[level]
                self._probe = _Probe(started=now, padding=gap, rtt_floor=self.last_rtt)
                self.probes += 1
                self.last_loss = None  # judged on what comes from now on
            else:
                level = self._go_up(level, now)
        self.level = level
        return level

    def _go_up(self, level: int, now: float) -> int:
        self._changed_at = now
        self._trial_until = now + self._config.trial
        self._up_at = now
        self.switches_up += 1
        return level + 1

    def _end_probe(self, now: float, *, failed: str | None) -> None:
        if self._probe is not None:
            self.probe_history.append((round(now - self._probe.started, 2), failed))
        self._probe = None
        if failed is not None:
            self.probes_failed += 1
            self.probe_failures[failed] = self.probe_failures.get(failed, 0) + 1
            self._changed_at = now
            self._probe_after = min(2 * self._probe_after, self._config.max_probe_after)
