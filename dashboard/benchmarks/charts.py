"""Server-side SVG chart geometry for benchmark pages (drawn by templates/benchmarks/_chart.html).

Like the queries area's charts: the view computes rectangles and polylines in a fixed
viewBox, the template only draws them. One run or two (a comparison overlays them):
the latency histogram shares its log-scale buckets between runs and shows each run's
share of transactions per bucket, so runs of different lengths compare.
"""

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT, TOP_MARGIN = 720, 160, 16
COLORS = ("#0b7a5b", "#c2410c")
HISTOGRAM_BUCKETS = 32


@dataclass
class Series:
    label: str
    color: str
    polyline: str = ""
    bars: list[dict] = field(default_factory=list)


@dataclass
class Chart:
    title: str
    unit: str
    x_start: str
    x_end: str
    peak: float = 0.0
    series: list[Series] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not any(s.polyline or s.bars for s in self.series)


def _y(value: float, peak: float) -> float:
    return round(HEIGHT - (value / peak * (HEIGHT - TOP_MARGIN) if peak else 0), 1)


def timeline_chart(title: str, unit: str, runs: list[tuple[str, list[tuple[int, float]]]]) -> Chart:
    """A line per run over the seconds of the run: [(label, [(second, value), ...]), ...]."""
    last = max((second for _, points in runs for second, _ in points), default=0)
    peak = max((value for _, points in runs for _, value in points), default=0.0)
    chart = Chart(title, unit, "0 s", f"{last + 1} s", peak=peak)
    span = max(last, 1)
    for (label, points), color in zip(runs, COLORS, strict=False):
        coords = " ".join(f"{round(second / span * WIDTH, 1)},{_y(value, peak)}" for second, value in points)
        chart.series.append(Series(label, color, polyline=coords))
    return chart


def latency_histogram(runs: list[tuple[str, object]]) -> Chart:
    """Bars per log-scale latency bucket: [(label, HdrHistogram in microseconds), ...]."""
    recorded = [(label, h) for label, h in runs if h.get_total_count()]
    if not recorded:
        return Chart("Latency histogram", "% of transactions", "", "")
    low = max(min(h.get_min_value() for _, h in recorded), 1)
    high = max(max(h.get_max_value() for _, h in recorded), low * 2)
    ratio = (high / low) ** (1.0 / HISTOGRAM_BUCKETS)
    shares = [(label, _shares(h, low, ratio)) for label, h in recorded]
    peak = max(max(values) for _, values in shares)
    chart = Chart("Latency histogram", "% of transactions", f"{low / 1000:.2f} ms", f"{high / 1000:.2f} ms (log scale)",
                  peak=peak)  # fmt: skip
    slot = WIDTH / HISTOGRAM_BUCKETS
    width = slot / len(shares) - 1
    for index, ((label, values), color) in enumerate(zip(shares, COLORS, strict=False)):
        series = Series(label, color)
        for bucket, value in enumerate(values):
            if not value:
                continue
            upper_ms = low * ratio ** (bucket + 1) / 1000
            y = _y(value, peak)
            series.bars.append({"x": round(bucket * slot + index * (width + 1), 1), "y": y, "w": round(width, 1),
                                "h": round(HEIGHT - y, 1),
                                "label": f"{label}: {value:.1f} % up to {upper_ms:.2f} ms"})  # fmt: skip
        chart.series.append(series)
    return chart


def _shares(histogram, low: float, ratio: float) -> list[float]:
    counts = [0] * HISTOGRAM_BUCKETS
    for item in histogram.get_recorded_iterator():
        value = max(item.value_iterated_to, low)
        index = min(int(math.log(value / low, ratio)), HISTOGRAM_BUCKETS - 1)
        counts[index] += item.count_at_value_iterated_to
    total = sum(counts) or 1
    return [100.0 * c / total for c in counts]
