"""Is run B really different from run A? A bootstrap confidence interval of the change.

Samples inside one run are autocorrelated (a slow second tends to follow a slow second),
so per-second samples are resampled in blocks (circular block bootstrap, block length
about n^(1/3)); samples of repeated runs (A, B, A, B ...) are independent and resampled
one by one. The change is relative: (mean B - mean A) / mean A. A change is called
significant only when the interval excludes zero AND |change| >= threshold (default 5 %):
a statistically clear 1 % difference is noise for a benchmark.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

DEFAULT_THRESHOLD = 0.05
HIGHER_IS_BETTER = {"tps": True, "p50": False, "p99": False}


@dataclass
class Comparison:
    metric: str
    baseline_mean: float
    candidate_mean: float
    change: float  # relative, e.g. 0.2 = B is 20 % above A
    ci_low: float
    ci_high: float
    confidence: float
    threshold: float
    significant: bool
    verdict: str  # "better", "worse" or "no significant change"
    baseline_samples: int
    candidate_samples: int

    def to_dict(self) -> dict:
        return asdict(self)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _resample(values: Sequence[float], block: int, rng: random.Random) -> float:
    """Mean of one circular block bootstrap resample of `values`."""
    n = len(values)
    if block <= 1:
        return sum(values[rng.randrange(n)] for _ in range(n)) / n
    total, taken = 0.0, 0
    while taken < n:
        start = rng.randrange(n)
        for offset in range(min(block, n - taken)):
            total += values[(start + offset) % n]
        taken += min(block, n - taken)
    return total / n


def default_block(n: int) -> int:
    return max(1, round(n ** (1 / 3)))


def compare_samples(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    metric: str = "tps",
    higher_is_better: bool | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    confidence: float = 0.95,
    resamples: int = 4000,
    block: int | None = None,
    seed: int = 0,
) -> Comparison:
    """Compare two sets of samples (per-second values of one run each, or one value per run)."""
    if len(baseline) < 2 or len(candidate) < 2:
        raise ValueError("each side needs at least 2 samples to compare")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    base_mean = _mean(baseline)
    if base_mean == 0:
        raise ValueError("the baseline mean is 0: a relative change is undefined")
    rng = random.Random(seed)
    blocks = (block or default_block(len(baseline)), block or default_block(len(candidate)))
    changes = sorted(
        _resample(candidate, blocks[1], rng) / _resample(baseline, blocks[0], rng) - 1.0
        for _ in range(resamples)
    )
    tail = (1.0 - confidence) / 2.0
    low = changes[max(0, math.floor(tail * resamples))]
    high = changes[min(resamples - 1, math.ceil((1.0 - tail) * resamples) - 1)]
    change = _mean(candidate) / base_mean - 1.0
    significant = (low > 0 or high < 0) and abs(change) >= threshold
    better = HIGHER_IS_BETTER.get(metric, True) if higher_is_better is None else higher_is_better
    verdict = "no significant change"
    if significant:
        verdict = "better" if (change > 0) == better else "worse"
    return Comparison(
        metric=metric,
        baseline_mean=base_mean,
        candidate_mean=_mean(candidate),
        change=change,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        threshold=threshold,
        significant=significant,
        verdict=verdict,
        baseline_samples=len(baseline),
        candidate_samples=len(candidate),
    )


def compare_runs(baseline, candidate, metric: str = "tps", **options) -> Comparison:
    """Two RunResults over their per-second samples after the warm-up (block bootstrap)."""
    return compare_samples(baseline.samples(metric), candidate.samples(metric), metric=metric, **options)


def compare_repeats(baseline_runs, candidate_runs, metric: str = "tps", **options) -> Comparison:
    """Repeated runs (A, B, A, B ...): one value per run, independent, so no blocks."""
    pick = {"tps": lambda r: r.tps, "p50": lambda r: r.latency.p50_ms, "p99": lambda r: r.latency.p99_ms}
    if metric not in pick:
        raise ValueError("metric must be tps, p50 or p99")
    values = [pick[metric](r) for r in baseline_runs], [pick[metric](r) for r in candidate_runs]
    return compare_samples(*values, metric=metric, block=1, **options)
