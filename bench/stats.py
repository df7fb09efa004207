"""Latency statistics: a mergeable log-linear histogram (HDR-style) and percentiles.

Values are non-negative integers (microseconds). Values below ``2**SUB_BITS`` are counted
exactly; above, each power of two is split into ``2**(SUB_BITS-1)`` equal buckets, so a
reported percentile is within 1/128 (0.8 %) of the true value. Recording is a few integer
operations and one dict update, cheap enough for the load generator's receive path, and
histograms of many processes and time windows merge by adding counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["SUB_BITS", "Histogram", "bucket_bounds", "bucket_of", "percentile_of_sorted"]

SUB_BITS = 8
_SUB = 1 << SUB_BITS
_HALF_BITS = SUB_BITS - 1


def bucket_of(value: int) -> int:
    """The bucket index of ``value`` (negative values count as 0)."""
    if value < _SUB:
        return value if value > 0 else 0
    shift = value.bit_length() - SUB_BITS
    return (shift << _HALF_BITS) + (value >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The values ``[low, high)`` that fall into bucket ``index``."""
    if index < _SUB:
        return index, index + 1
    shift = (index >> _HALF_BITS) - 1
    mantissa = index - (shift << _HALF_BITS)
    return mantissa << shift, (mantissa + 1) << shift


class Histogram:
    """Counts of values per bucket; exact count, sum, min and max."""

    __slots__ = ("count", "counts", "max", "min", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0
        self.min: int | None = None
        self.max: int | None = None

    def record(self, value: int) -> None:
        value = max(value, 0)
        key = bucket_of(value)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.count += 1
        self.total += value
        if self.max is None or value > self.max:
            self.max = value
        if self.min is None or value < self.min:
            self.min = value

    def record_many(self, values: Iterable[int]) -> None:
        for value in values:
            self.record(value)

    def merge(self, other: Histogram) -> Histogram:
        """Add ``other``'s counts to this histogram; returns self."""
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.count += other.count
        self.total += other.total
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max
        if other.min is not None and (self.min is None or other.min < self.min):
            self.min = other.min
        return self

    @classmethod
    def merged(cls, parts: Iterable[Histogram]) -> Histogram:
        out = cls()
        for part in parts:
            out.merge(part)
        return out

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def percentile(self, p: float) -> int | None:
        """The value at percentile ``p`` (0..100): the middle of the bucket holding the
        ceil(p% x count)-th smallest value, clamped to the exact min and max."""
        if not self.count or self.min is None or self.max is None:
            return None
        if p <= 0:
            return self.min
        if p >= 100:
            return self.max
        rank = max(1, -(-self.count * p // 100))  # ceil without floats drifting
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                low, high = bucket_bounds(key)
                middle = (low + high - 1) // 2
                return min(max(middle, self.min), self.max)
        return self.max

    def cdf(self, points: int = 200) -> list[tuple[int, float]]:
        """(value, fraction of values <= value) at every bucket, thinned to ~``points``."""
        if not self.count:
            return []
        keys = sorted(self.counts)
        step = max(1, len(keys) // points)
        out: list[tuple[int, float]] = []
        seen = 0
        for i, key in enumerate(keys):
            seen += self.counts[key]
            if i % step == 0 or i == len(keys) - 1:
                out.append((bucket_bounds(key)[1] - 1, seen / self.count))
        return out

    def summary_ms(self) -> dict[str, float | int | None]:
        """count, mean and p50/p95/p99/max in milliseconds (values are microseconds)."""

        def ms(value: float | int | None) -> float | None:
            return None if value is None else round(value / 1000, 3)

        return {
            "count": self.count,
            "mean": ms(self.mean),
            "p50": ms(self.percentile(50)),
            "p95": ms(self.percentile(95)),
            "p99": ms(self.percentile(99)),
            "max": ms(self.max),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": {str(k): v for k, v in sorted(self.counts.items())},
            "count": self.count,
            "total": self.total,
            "min": self.min,
            "max": self.max,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        out = cls()
        out.counts = {int(k): int(v) for k, v in data.get("counts", {}).items()}
        out.count = int(data.get("count", sum(out.counts.values())))
        out.total = int(data.get("total", 0))
        out.min = data.get("min")
        out.max = data.get("max")
        return out


def percentile_of_sorted(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile of an already sorted list (for small exact samples)."""
    if not values:
        return None
    if p <= 0:
        return values[0]
    rank = max(1, -(-len(values) * p // 100))
    return values[min(len(values), int(rank)) - 1]
