"""The percentile code: buckets, percentiles against exact ones, merging, serialisation."""

from __future__ import annotations

import itertools
import random

import pytest

from bench.stats import Histogram, bucket_bounds, bucket_of, percentile_of_sorted


def test_small_values_are_exact_and_buckets_tile_the_line() -> None:
    for value in range(256):
        assert bucket_bounds(bucket_of(value)) == (value, value + 1)
    previous_high = 256
    for index in range(256, 256 + 128 * 20):
        low, high = bucket_bounds(index)
        assert low == previous_high
        assert bucket_of(low) == index
        assert bucket_of(high - 1) == index
        assert (high - low) / low <= 1 / 128
        previous_high = high


def test_negative_values_count_as_zero() -> None:
    hist = Histogram()
    hist.record(-5)
    assert hist.percentile(50) == 0
    assert hist.min == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_are_within_one_percent_of_exact(seed: int) -> None:
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(8, 1.5)) for _ in range(20_000)]
    hist = Histogram()
    hist.record_many(values)
    exact = sorted(values)
    for p in (50, 90, 95, 99, 99.9):
        want = percentile_of_sorted([float(v) for v in exact], p)
        got = hist.percentile(p)
        assert want is not None
        assert got is not None
        assert abs(got - want) <= max(1, want / 100), (p, got, want)
    assert hist.percentile(100) == max(values)
    assert hist.percentile(0) == min(values)
    assert hist.count == len(values)
    assert hist.mean == pytest.approx(sum(values) / len(values))


def test_exact_percentiles_of_a_known_sample() -> None:
    hist = Histogram()
    hist.record_many(range(1, 101))  # 1..100, all exact buckets
    assert hist.percentile(50) == 50
    assert hist.percentile(95) == 95
    assert hist.percentile(99) == 99
    assert hist.percentile(99.5) == 100
    assert percentile_of_sorted([float(v) for v in range(1, 101)], 50) == 50
    assert percentile_of_sorted([], 50) is None


def test_empty_histogram() -> None:
    hist = Histogram()
    assert hist.percentile(50) is None
    assert hist.cdf() == []
    assert hist.summary_ms() == {
        "count": 0,
        "mean": None,
        "p50": None,
        "p95": None,
        "p99": None,
        "max": None,
    }


def test_merge_equals_recording_everything_in_one() -> None:
    rng = random.Random(7)
    parts = [[rng.randrange(0, 10**6) for _ in range(1000)] for _ in range(4)]
    whole = Histogram()
    for part in parts:
        whole.record_many(part)
    pieces = []
    for part in parts:
        piece = Histogram()
        piece.record_many(part)
        pieces.append(piece)
    merged = Histogram.merged(pieces)
    assert merged.counts == whole.counts
    assert (merged.count, merged.total, merged.min, merged.max) == (
        whole.count,
        whole.total,
        whole.min,
        whole.max,
    )
    assert Histogram.merged([]).count == 0


def test_round_trip_through_json_shape() -> None:
    hist = Histogram()
    hist.record_many([3, 300, 30_000, 3_000_000])
    again = Histogram.from_dict(hist.to_dict())
    assert again.counts == hist.counts
    assert again.percentile(99) == hist.percentile(99)
    assert again.summary_ms()["max"] == 3000.0


def test_cdf_is_monotone_and_ends_at_one() -> None:
    hist = Histogram()
    hist.record_many(range(0, 100_000, 7))
    points = hist.cdf(50)
    assert points[-1][1] == 1.0
    assert all(a[0] < b[0] and a[1] <= b[1] for a, b in itertools.pairwise(points))
    assert len(points) <= 60
