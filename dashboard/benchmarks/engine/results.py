"""Results of a run: HDR latency histograms merged across processes, and JSON-ready dataclasses.

Latencies and connection times are recorded in microseconds into HDR histograms
(1 us to 1 hour, 3 significant digits). Each worker process sends one `SecondFrame` per
second of the run; `Aggregator` merges the frames of all processes into the per-second
timeline and, leaving out the warm-up seconds, into the totals of the `RunResult`.
"""

import math
from collections import Counter
from dataclasses import asdict, dataclass, field, fields

from hdrh.histogram import HdrHistogram

LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS = 1, 3_600_000_000, 3
PERCENTILES = (("p50_ms", 50.0), ("p90_ms", 90.0), ("p95_ms", 95.0), ("p99_ms", 99.0), ("p999_ms", 99.9))


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def histogram_of(counts: dict[int, int]) -> HdrHistogram:
    """A histogram from {microseconds: count} (what the hot loop collects: one dict update each)."""
    histogram = new_histogram()
    for value, count in counts.items():
        histogram.record_value(min(max(value, LOWEST_US), HIGHEST_US), count)
    return histogram


def encode(histogram: HdrHistogram) -> str:
    """The standard compressed, base64 HDR encoding (readable by any HdrHistogram library)."""
    return histogram.encode().decode("ascii")


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def merge(histograms) -> HdrHistogram:
    total = new_histogram()
    for histogram in histograms:
        if histogram.get_total_count():
            total.add(histogram)
    return total


def _ms(microseconds: float) -> float:
    return round(microseconds / 1000.0, 3)


@dataclass
class LatencySummary:
    count: int = 0
    mean_ms: float = 0.0
    stddev_ms: float = 0.0
    min_ms: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    max_ms: float = 0.0

    @classmethod
    def of(cls, histogram: HdrHistogram) -> "LatencySummary":
        count = histogram.get_total_count()
        if not count:
            return cls()
        values = {name: _ms(histogram.get_value_at_percentile(p)) for name, p in PERCENTILES}
        return cls(
            count=count,
            mean_ms=_ms(histogram.get_mean_value()),
            stddev_ms=_ms(histogram.get_stddev()),
            min_ms=_ms(histogram.get_min_value()),
            max_ms=_ms(histogram.get_max_value()),
            **values,
        )


def histogram_buckets(histogram: HdrHistogram, buckets: int = 40) -> list[tuple[float, int]]:
    """(upper bound in ms, count) on a log scale from min to max, for a latency chart."""
    if not histogram.get_total_count():
        return []
    low, high = max(histogram.get_min_value(), 1), max(histogram.get_max_value(), 2)
    ratio = (high / low) ** (1.0 / buckets) if high > low else 2.0
    bounds = [low * ratio ** (i + 1) for i in range(buckets)]
    counts = [0] * buckets
    for item in histogram.get_recorded_iterator():
        value = item.value_iterated_to
        index = min(int(math.log(max(value, low) / low, ratio)) if ratio > 1 else 0, buckets - 1)
        counts[index] += item.count_at_value_iterated_to
    return [(_ms(b), c) for b, c in zip(bounds, counts, strict=True)]


@dataclass
class SecondFrame:
    """What one worker process did during one second of the run (by transaction end time)."""

    second: int
    transactions: list[int]  # per script, in the run's script order
    latency: str  # encoded histogram (us) of the successful transactions
    connects: str  # encoded histogram (us) of the connections opened
    failures: dict[str, int]  # SQLSTATE (or "connect") -> failed transactions
    retries: int = 0
    lag_sum_us: int = 0
    lag_max_us: int = 0


@dataclass
class TimelinePoint:
    second: int
    transactions: int
    tps: float
    p50_ms: float
    p99_ms: float
    errors: int
    retries: int
    warmup: bool


@dataclass
class Progress:
    """The snapshot the progress callback receives once a second (cumulative, warm-up excluded)."""

    point: TimelinePoint
    elapsed_seconds: int
    planned_seconds: int
    transactions: int
    errors: int


@dataclass
class RunResult:
    """Everything a run measured; `to_dict()` is JSON, `from_dict()` reads it back."""

    clients: int
    processes: int
    duration_seconds: float
    warmup_seconds: int
    protocol: str
    reconnect: bool
    rate: float | None
    scripts: list[dict]  # [{name, weight, transactions}]
    measured_seconds: float = 0.0
    transactions: int = 0
    tps: float = 0.0
    failed_transactions: int = 0
    retries: int = 0
    errors_by_sqlstate: dict[str, int] = field(default_factory=dict)
    latency: LatencySummary = field(default_factory=LatencySummary)
    latency_histogram: str = ""
    initial_connections: LatencySummary = field(default_factory=LatencySummary)
    reconnections: LatencySummary = field(default_factory=LatencySummary)
    schedule_lag_avg_ms: float = 0.0
    schedule_lag_max_ms: float = 0.0
    timeline: list[TimelinePoint] = field(default_factory=list)
    cancelled: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunResult":
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        for name in ("latency", "initial_connections", "reconnections"):
            if isinstance(values.get(name), dict):
                values[name] = LatencySummary(**values[name])
        values["timeline"] = [TimelinePoint(**p) for p in values.get("timeline", [])]
        return cls(**values)

    def samples(self, metric: str) -> list[float]:
        """Per-second samples after the warm-up (seconds with transactions), for compare()."""
        points = [p for p in self.timeline if not p.warmup and p.transactions]
        if metric == "tps":
            return [p.tps for p in points]
        if metric in ("p50", "p99"):
            return [getattr(p, metric + "_ms") for p in points]
        raise ValueError("metric must be tps, p50 or p99")


class Aggregator:
    """Merges the SecondFrames of all worker processes, one second at a time, in order."""

    def __init__(self, workers: int, script_count: int, warmup_seconds: int):
        self.workers = workers
        self.warmup_seconds = warmup_seconds
        self.pending: dict[int, list[SecondFrame]] = {}
        self.reported_up_to = [-1] * workers  # last second each worker sent
        self.finished = [False] * workers
        self.next_second = 0
        self.latency = new_histogram()
        self.connects = new_histogram()
        self.by_script = [0] * script_count
        self.failures: Counter = Counter()
        self.retries = 0
        self.lag_sum_us = 0
        self.lag_max_us = 0
        self.timeline: list[TimelinePoint] = []

    def add(self, worker: int, frame: SecondFrame) -> None:
        self.pending.setdefault(frame.second, []).append(frame)
        self.reported_up_to[worker] = max(self.reported_up_to[worker], frame.second)

    def finish(self, worker: int) -> None:
        self.finished[worker] = True

    def ready_points(self, final: bool = False) -> list[TimelinePoint]:
        """Seconds every worker has reported (all of them when `final`), merged into the totals."""
        done = []
        while self.pending:
            if not final:
                running = [
                    up_to
                    for up_to, ended in zip(self.reported_up_to, self.finished, strict=True)
                    if not ended
                ]
                if running and self.next_second > min(running):
                    break
            done.append(self._merge_second(self.next_second, self.pending.pop(self.next_second, [])))
            self.next_second += 1
        return done

    def _merge_second(self, second: int, frames: list[SecondFrame]) -> TimelinePoint:
        latency = merge(decode(f.latency) for f in frames)
        count = sum(sum(f.transactions) for f in frames)
        errors = sum(sum(f.failures.values()) for f in frames)
        retries = sum(f.retries for f in frames)
        warmup = second < self.warmup_seconds
        if not warmup:
            self.latency.add(latency)
            for f in frames:
                self.by_script = [a + b for a, b in zip(self.by_script, f.transactions, strict=True)]
                self.failures.update(f.failures)
                self.lag_sum_us += f.lag_sum_us
                self.lag_max_us = max(self.lag_max_us, f.lag_max_us)
            self.retries += retries
        for f in frames:  # connection times count from the start (the warm-up connects too)
            self.connects.add(decode(f.connects))
        point = TimelinePoint(
            second=second,
            transactions=count,
            tps=float(count),
            p50_ms=_ms(latency.get_value_at_percentile(50.0)) if count else 0.0,
            p99_ms=_ms(latency.get_value_at_percentile(99.0)) if count else 0.0,
            errors=errors,
            retries=retries,
            warmup=warmup,
        )
        self.timeline.append(point)
        return point
