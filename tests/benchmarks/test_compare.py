"""compare(): a bootstrap interval of the change, significant only past the threshold."""

import random

import pytest

from dashboard.benchmarks.engine.compare import compare_repeats, compare_runs, compare_samples
from dashboard.benchmarks.engine.results import LatencySummary, RunResult, TimelinePoint


def noisy(mean: float, count: int, seed: int, spread: float = 0.04) -> list[float]:
    """Per-second samples with autocorrelated noise (each second leans on the one before)."""
    rng, level, values = random.Random(seed), 0.0, []
    for _ in range(count):
        level = 0.6 * level + rng.gauss(0, spread)
        values.append(mean * (1 + level))
    return values


def test_a_clear_20_percent_difference_is_significant():
    result = compare_samples(noisy(1000, 30, seed=1), noisy(1200, 30, seed=2))
    assert result.significant and result.verdict == "better"
    assert result.change == pytest.approx(0.2, abs=0.05)
    assert 0 < result.ci_low < result.change < result.ci_high


def test_two_runs_of_the_same_noise_are_not_significant():
    for seed in range(5):
        result = compare_samples(noisy(1000, 30, seed=seed), noisy(1000, 30, seed=seed + 100))
        assert not result.significant and result.verdict == "no significant change"


def test_a_small_but_clear_change_stays_below_the_threshold():
    steady_a = [1000 + (i % 3) for i in range(40)]
    steady_b = [1020 + (i % 3) for i in range(40)]  # 2 %: real, but under 5 %
    result = compare_samples(steady_a, steady_b)
    assert result.ci_low > 0 and not result.significant
    assert compare_samples(steady_a, steady_b, threshold=0.01).significant


def test_for_latency_lower_is_better():
    result = compare_samples(noisy(10, 30, seed=3), noisy(13, 30, seed=4), metric="p99")
    assert result.significant and result.verdict == "worse"


def test_too_few_samples_are_refused():
    with pytest.raises(ValueError, match="at least 2 samples"):
        compare_samples([1.0], [1.0, 2.0])


def run_with(tps_per_second: list[float], p50: float = 1.0) -> RunResult:
    timeline = [
        TimelinePoint(i, int(v), v, p50, p50 * 3, 0, 0, warmup=(i == 0)) for i, v in enumerate(tps_per_second)
    ]
    return RunResult(
        clients=1,
        processes=1,
        duration_seconds=len(tps_per_second),
        warmup_seconds=1,
        protocol="prepared",
        reconnect=False,
        rate=None,
        scripts=[],
        tps=sum(tps_per_second[1:]) / (len(tps_per_second) - 1),
        latency=LatencySummary(p50_ms=p50, p99_ms=p50 * 3),
        timeline=timeline,
    )


def test_runs_are_compared_over_their_seconds_after_the_warm_up():
    # A warm-up second of 1 tps would drag A's mean down if it were counted.
    a = run_with([1.0] + noisy(1000, 20, seed=5))
    b = run_with([1.0] + noisy(1000, 20, seed=6))
    result = compare_runs(a, b)
    assert result.baseline_samples == 20 and not result.significant


def test_repeated_runs_are_compared_one_value_per_run():
    a_runs = [run_with([0, v]) for v in (1000, 1010, 990, 1005)]
    b_runs = [run_with([0, v]) for v in (1250, 1240, 1260, 1255)]
    result = compare_repeats(a_runs, b_runs)
    assert result.significant and result.change == pytest.approx(0.25, abs=0.02)
    assert not compare_repeats(a_runs, [run_with([0, v]) for v in (1003, 995, 1008, 999)]).significant
