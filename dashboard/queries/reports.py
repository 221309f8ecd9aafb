"""What the queries pages show, computed from the stored history (never from the target).

Top statements over a window aggregate the per-interval deltas in one grouped
query; a statement's charts bucket its samples over the window.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pglast
from django.db.models import F, FloatField, Sum
from django.db.models.functions import Cast, NullIf

from dashboard.models.queries import QueryText, Statement, StatsSample

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
WINDOW_LABELS = {"1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "custom": "Custom"}
SORTS = {
    "total": ("total_ms", "Total time"),
    "mean": ("mean_ms", "Mean time"),
    "calls": ("calls", "Calls"),
    "rows": ("rows", "Rows"),
    "reads": ("blks_read", "Shared blocks read"),
}


@dataclass
class Window:
    key: str
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return WINDOW_LABELS[self.key]


@dataclass
class Filters:
    role: str = ""
    database: str = ""
    text: str = ""


def samples_in(project, window: Window, filters: Filters | None = None):
    """The project's samples in the window, without the dashboard's own statements."""
    qs = StatsSample.objects.filter(
        project=project, taken_at__gt=window.start, taken_at__lte=window.end, statement__query__is_own=False
    )
    if filters is not None:
        if filters.role:
            qs = qs.filter(statement__role_name=filters.role)
        if filters.database:
            qs = qs.filter(statement__datname=filters.database)
        if filters.text:
            qs = qs.filter(statement__query__text__icontains=filters.text)
    return qs


def top_statements(project, window: Window, filters: Filters, sort: str):
    """One row per query id: summed deltas, mean time, ordered by the chosen measure (a queryset)."""
    order, _ = SORTS.get(sort, SORTS["total"])
    return (
        samples_in(project, window, filters)
        .values("statement__query_id", "statement__queryid")
        .annotate(
            calls=Sum("calls"),
            total_ms=Sum("total_exec_ms"),
            rows=Sum("rows"),
            blks_read=Sum("shared_blks_read"),
            blks_hit=Sum("shared_blks_hit"),
        )
        .annotate(mean_ms=F("total_ms") / Cast(NullIf(F("calls"), 0), FloatField()))
        .order_by(F(order).desc(nulls_last=True), "statement__queryid")
    )


def window_total_ms(project, window: Window) -> float:
    return samples_in(project, window).aggregate(total=Sum("total_exec_ms"))["total"] or 0.0


def attach_texts(rows: list[dict], total_ms: float) -> list[dict]:
    """Add the short text and share of total time to one page of rows (one query for all texts)."""
    texts = dict(QueryText.objects.filter(id__in=[r["statement__query_id"] for r in rows]).values_list("id", "text"))
    for row in rows:
        row["queryid"] = row["statement__queryid"]
        row["text"] = one_line(texts.get(row["statement__query_id"], ""))
        row["share"] = (row["total_ms"] / total_ms * 100) if total_ms else 0.0
    return rows


def one_line(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def pretty(text: str) -> str:
    """The normalized text laid out readably (as is when it cannot be parsed, e.g. truncated)."""
    try:
        return pglast.prettify(text)
    except Exception:  # noqa: BLE001 - pglast raises several types for texts it cannot print
        return text


def filter_choices(project) -> dict:
    statements = Statement.objects.filter(project=project, query__is_own=False)
    return {
        "roles": sorted(set(statements.values_list("role_name", flat=True))),
        "databases": sorted(set(statements.values_list("datname", flat=True))),
    }


@dataclass
class Chart:
    title: str
    unit: str
    points: list[tuple[datetime, float]]
    width: int = 640
    height: int = 160
    bars: list[dict] = field(default_factory=list)
    peak: float = 0.0


def bucket_size(window: Window) -> timedelta:
    span = window.end - window.start
    if span <= timedelta(hours=2):
        return timedelta(minutes=5)
    if span <= timedelta(days=2):
        return timedelta(minutes=30)
    return timedelta(hours=3)


def statement_history(project, query_text: QueryText, window: Window, role: str = "") -> list[dict]:
    """Per bucket: calls, total and mean time of one query id (all roles, or one)."""
    samples = samples_in(project, window, Filters(role=role)).filter(statement__query=query_text)
    step = bucket_size(window)
    buckets: dict[datetime, dict] = {}
    for taken_at, calls, total in samples.values_list("taken_at", "calls", "total_exec_ms").order_by("taken_at"):
        index = int((taken_at - window.start) / step)
        start = window.start + index * step
        bucket = buckets.setdefault(start, {"start": start, "calls": 0, "total_ms": 0.0})
        bucket["calls"] += calls
        bucket["total_ms"] += total
    for bucket in buckets.values():
        bucket["mean_ms"] = bucket["total_ms"] / bucket["calls"] if bucket["calls"] else 0.0
    return sorted(buckets.values(), key=lambda b: b["start"])


def chart(title: str, unit: str, history: list[dict], key: str, window: Window) -> Chart:
    """Bar geometry for a server-side SVG chart over the whole window (gaps stay empty)."""
    result = Chart(title=title, unit=unit, points=[(b["start"], b[key]) for b in history])
    result.peak = max((value for _, value in result.points), default=0.0)
    span = (window.end - window.start).total_seconds() or 1
    step = bucket_size(window).total_seconds()
    bar_width = max(result.width * step / span - 1, 1)
    for start, value in result.points:
        x = (start - window.start).total_seconds() / span * result.width
        h = (value / result.peak * (result.height - 20)) if result.peak else 0
        result.bars.append({"x": round(x, 1), "y": round(result.height - h, 1), "w": round(bar_width, 1),
                            "h": round(h, 1), "label": f"{start:%Y-%m-%d %H:%M} UTC: {value:,.2f} {unit}"})
    return result
