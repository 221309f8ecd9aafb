"""What the queries pages show, computed from the stored history (never from the target).

Top statements over a window aggregate the per-interval deltas in one grouped
query; a statement's charts bucket its samples over the window.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pglast
from django.db import connection
from django.db.models import Sum

from dashboard.models import QueryText, Statement, StatsSample

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
        project=project, taken_at__gt=window.start, taken_at__lte=window.end, statement__is_own=False
    )
    if filters is not None:
        if filters.role:
            qs = qs.filter(statement__role_name=filters.role)
        if filters.database:
            qs = qs.filter(statement__datname=filters.database)
        if filters.text:
            qs = qs.filter(statement__query__text__icontains=filters.text)
    return qs


SAMPLE_TABLE = StatsSample._meta.db_table
STATEMENT_TABLE = Statement._meta.db_table
TEXT_TABLE = QueryText._meta.db_table

# One pass over the window's samples: aggregate per entry, join the (few thousand) entries to their
# texts, then per query id; the window total and the number of matching rows come from window
# functions, so a page needs no separate count or total query. Table names are our own models';
# the ORDER BY column comes from the SORTS whitelist; everything else is a bound parameter.
TOP_SQL = """
WITH per_entry AS (
  SELECT statement_id, sum(calls) AS calls, sum(total_exec_ms) AS total_ms, sum(rows) AS rows,
         sum(shared_blks_read) AS blks_read, sum(shared_blks_hit) AS blks_hit
  FROM {samples}
  WHERE project_id = %(project)s AND taken_at > %(start)s AND taken_at <= %(end)s
  GROUP BY statement_id
), visible AS (
  SELECT st.query_id, st.queryid, st.role_name, st.datname,
         CASE WHEN %(hide_literals)s AND q.viewer_text <> '' THEN q.viewer_text ELSE q.text END AS text, e.calls, e.total_ms, e.rows, e.blks_read,
         e.blks_hit, sum(e.total_ms) OVER () AS window_total_ms
  FROM per_entry e JOIN {statements} st ON st.id = e.statement_id JOIN {texts} q ON q.id = st.query_id
  WHERE NOT st.is_own
), per_query AS (
  SELECT query_id, queryid, min(text) AS text, sum(calls) AS calls, sum(total_ms) AS total_ms, sum(rows) AS rows,
         sum(blks_read) AS blks_read, sum(blks_hit) AS blks_hit, max(window_total_ms) AS window_total_ms
  FROM visible
  WHERE (%(role)s = '' OR role_name = %(role)s) AND (%(database)s = '' OR datname = %(database)s)
    AND (%(pattern)s = '' OR text ILIKE %(pattern)s)
  GROUP BY query_id, queryid
)
SELECT queryid, left(text, 1000), calls, total_ms, total_ms / NULLIF(calls, 0)::float8 AS mean_ms, rows, blks_read,
       blks_hit, window_total_ms, count(*) OVER () AS matching
FROM per_query
ORDER BY {order} DESC NULLS LAST, queryid
LIMIT %(limit)s OFFSET %(offset)s
"""
TOP_COLUMNS = (
    "queryid",
    "text",
    "calls",
    "total_ms",
    "mean_ms",
    "rows",
    "blks_read",
    "blks_hit",
    "window_total_ms",
    "matching",
)


def like_pattern(text: str) -> str:
    if not text:
        return ""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass
class TopPage:
    """One page of top statements, with what templates/_pagination.html needs."""

    rows: list[dict]
    number: int
    per_page: int
    total_rows: int

    @property
    def num_pages(self) -> int:
        return max((self.total_rows + self.per_page - 1) // self.per_page, 1)

    @property
    def paginator(self):
        return self

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return self.number < self.num_pages

    def has_other_pages(self) -> bool:
        return self.num_pages > 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def top_statements(
    project,
    window: Window,
    filters: Filters,
    sort: str,
    page: int = 1,
    per_page: int = 50,
    *,
    hide_literals: bool = False,
) -> TopPage:
    """One page of query ids ordered by the chosen measure, with share of the window's total time.

    With `hide_literals` (viewers) texts are shown, and the text filter searches them, with every
    literal replaced by "?", as on the activity page.
    """
    order, _ = SORTS.get(sort, SORTS["total"])
    query = TOP_SQL.format(samples=SAMPLE_TABLE, statements=STATEMENT_TABLE, texts=TEXT_TABLE, order=order)
    params = {
        "project": project.pk,
        "start": window.start,
        "end": window.end,
        "role": filters.role,
        "database": filters.database,
        "pattern": like_pattern(filters.text),
        "hide_literals": hide_literals,
        "limit": per_page,
        "offset": (max(page, 1) - 1) * per_page,
    }
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = [dict(zip(TOP_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
    if not rows and page > 1:  # past the last page (the data moved on): show the first
        return top_statements(project, window, filters, sort, 1, per_page, hide_literals=hide_literals)
    for row in rows:
        row["text"] = one_line(row["text"])
        row["share"] = (row["total_ms"] / row["window_total_ms"] * 100) if row["window_total_ms"] else 0.0
    return TopPage(
        rows=rows, number=max(page, 1), per_page=per_page, total_rows=rows[0]["matching"] if rows else 0
    )


def one_line(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def pretty(text: str, max_chars: int) -> str:
    """The normalized text laid out readably (as is when it cannot be parsed, e.g. truncated).

    A text over `max_chars` is not parsed: its first `max_chars` characters are shown as they are.
    """
    if len(text) > max_chars:
        return f"{text[:max_chars]}\n… ({len(text) - max_chars:,} more characters not shown)"
    try:
        return pglast.prettify(text)
    except Exception:  # noqa: BLE001 - pglast raises several types for texts it cannot print
        return text


def filter_choices(project) -> dict:
    statements = Statement.objects.filter(project=project, is_own=False)
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

    @property
    def peak_label(self) -> str:
        return format_measure(self.peak, self.unit)


BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_measure(value: float, unit: str) -> str:
    """A measure as people read it: counts whole with thousands separators, times with a precision
    that fits their size (seconds from 1,000 ms on), bytes in binary units."""
    if unit == "ms":
        if value >= 1000:
            return f"{value / 1000:,.2f} s"
        if value >= 100:
            return f"{value:.0f} ms"
        if value >= 10:
            return f"{value:.1f} ms"
        if value >= 1 or value == 0:
            return f"{value:.2f} ms"
        return f"{value:.3f} ms"
    if unit == "bytes":
        size, index = float(value), 0
        while abs(size) >= 1024 and index < len(BYTE_UNITS) - 1:
            size, index = size / 1024, index + 1
        return f"{size:.0f} {BYTE_UNITS[index]}" if index == 0 else f"{size:.1f} {BYTE_UNITS[index]}"
    return f"{round(value):,} {unit}"  # counts (calls, rows, blocks)


def per_role(project, query_text: QueryText, window: Window) -> list[dict]:
    """The statement's totals in the window for each role that ran it."""
    rows = (
        samples_in(project, window)
        .filter(statement__query=query_text)
        .values("statement__role_name")
        .annotate(calls=Sum("calls"), total_ms=Sum("total_exec_ms"), rows=Sum("rows"))
        .order_by("-total_ms")
    )
    return [
        {
            "role": r["statement__role_name"],
            "calls": r["calls"],
            "total_ms": r["total_ms"],
            "rows": r["rows"],
            "mean_ms": r["total_ms"] / r["calls"] if r["calls"] else 0.0,
        }
        for r in rows
    ]


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
    rows = samples.values_list("taken_at", "calls", "total_exec_ms", "series_start").order_by("taken_at")
    for taken_at, calls, total, series_start in rows:
        index = int((taken_at - window.start) / step)
        start = window.start + index * step
        bucket = buckets.setdefault(start, {"start": start, "calls": 0, "total_ms": 0.0, "reset": False})
        bucket["reset"] |= series_start
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
        result.bars.append(
            {
                "x": round(x, 1),
                "y": round(result.height - h, 1),
                "w": round(bar_width, 1),
                "h": round(h, 1),
                "label": f"{start:%Y-%m-%d %H:%M} UTC: {format_measure(value, unit)}",
            }
        )
    return result
