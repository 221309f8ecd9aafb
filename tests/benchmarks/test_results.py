"""HDR histograms: percentiles of a known sample, merging encoded histograms, the per-second merge."""

import pytest

from dashboard.benchmarks.engine.results import (
    Aggregator,
    LatencySummary,
    SecondFrame,
    decode,
    encode,
    histogram_buckets,
    histogram_of,
    merge,
)


def frame(second: int, latencies_us: list[int], failures=None, transactions=None) -> SecondFrame:
    counts = {}
    for value in latencies_us:
        counts[value] = counts.get(value, 0) + 1
    return SecondFrame(
        second=second,
        transactions=transactions or [len(latencies_us)],
        latency=encode(histogram_of(counts)),
        connects=encode(histogram_of({})),
        failures=failures or {},
    )


def test_percentiles_of_a_known_sample():
    # 1 .. 10,000 microseconds, once each: the k-th percentile is k * 100 us.
    summary = LatencySummary.of(histogram_of({us: 1 for us in range(1, 10_001)}))
    assert summary.count == 10_000
    assert summary.p50_ms == pytest.approx(5.0, rel=0.002)
    assert summary.p90_ms == pytest.approx(9.0, rel=0.002)
    assert summary.p95_ms == pytest.approx(9.5, rel=0.002)
    assert summary.p99_ms == pytest.approx(9.9, rel=0.002)
    assert summary.p999_ms == pytest.approx(9.99, rel=0.002)
    assert summary.max_ms == pytest.approx(10.0, rel=0.002) and summary.min_ms == pytest.approx(0.001)
    assert summary.mean_ms == pytest.approx(5.0005, rel=0.002)


def test_a_long_tail_shows_in_the_high_percentiles_only():
    counts = {100: 9_900, 50_000: 100}  # 1 % of requests take 50 ms
    summary = LatencySummary.of(histogram_of(counts))
    assert summary.p50_ms == pytest.approx(0.1, rel=0.01) and summary.p95_ms == pytest.approx(0.1, rel=0.01)
    assert summary.p999_ms == pytest.approx(50.0, rel=0.002)


def test_merging_encoded_halves_equals_the_whole():
    first = histogram_of({us: 1 for us in range(1, 5_001)})
    second = histogram_of({us: 1 for us in range(5_001, 10_001)})
    merged = merge(decode(encode(h)) for h in (first, second))
    whole = histogram_of({us: 1 for us in range(1, 10_001)})
    assert LatencySummary.of(merged) == LatencySummary.of(whole)


def test_an_empty_histogram_summarises_to_zeros():
    assert LatencySummary.of(histogram_of({})) == LatencySummary()
    assert histogram_buckets(histogram_of({})) == []


def test_buckets_for_a_chart_hold_every_value():
    buckets = histogram_buckets(histogram_of({100: 5, 1_000: 3, 10_000: 2}), buckets=10)
    assert len(buckets) == 10 and sum(c for _, c in buckets) == 10
    assert buckets[-1][0] == pytest.approx(10.0, rel=0.01)


def test_the_aggregator_merges_workers_second_by_second_and_leaves_out_the_warm_up():
    aggregator = Aggregator(workers=2, script_count=1, warmup_seconds=1)
    aggregator.add(0, frame(0, [100] * 10))
    assert aggregator.ready_points() == []  # worker 1 has not reported second 0 yet
    aggregator.add(1, frame(0, [200] * 5))
    aggregator.add(0, frame(1, [300] * 7, failures={"40001": 2}))
    (point,) = aggregator.ready_points()
    assert (point.second, point.transactions, point.warmup) == (0, 15, True)
    aggregator.add(1, frame(1, [400] * 3, failures={"40001": 1, "22012": 4}))
    aggregator.finish(0)
    aggregator.finish(1)
    (point,) = aggregator.ready_points(final=True)
    assert (point.second, point.transactions, point.errors, point.warmup) == (1, 10, 7, False)
    assert aggregator.latency.get_total_count() == 10  # the warm-up second is not in the totals
    assert dict(aggregator.failures) == {"40001": 3, "22012": 4}
    assert aggregator.by_script == [10]
