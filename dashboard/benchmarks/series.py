"""Benchmark series for the views: start N interleaved repetitions A, B, A, B ..., cancel, compare.

A copies a run's parameters; B copies them with one thing changed (the same one-click
variants as a counterpart: pooled vs direct, the parent branch) or copies a second run.
The worker side is series_execution.py. The comparison takes one value per finished
repetition (engine.compare_repeats: independent samples, bootstrap interval, significant
only when the interval excludes zero and the change is at least the threshold).
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard.benchmarks import isolation, services
from dashboard.benchmarks.engine import compare_repeats
from dashboard.benchmarks.models import (
    ACTIVE_STATUSES,
    RUN_OPTIONS,
    BenchmarkRun,
    BenchmarkSeries,
    BenchmarkStatus,
    new_run,
    run_options_of,
)
from dashboard.benchmarks.series_execution import SERIES_KIND
from dashboard.benchmarks.tasks import run_series
from dashboard.common import audit

SCRIPT_OPTIONS = ("script", "script_weight", "extra_scripts")


@dataclass
class Side:
    """What one side of a series runs: a run's parameters (RUN_OPTIONS) on a branch (None: plain Postgres)."""

    options: dict
    branch: object = None

    @property
    def branch_id(self) -> str:
        return self.branch.branch_id if self.branch else ""


def sides_for(
    a: BenchmarkRun, *, b: BenchmarkRun | None = None, kind: str = "", is_admin: bool
) -> tuple[Side, Side]:
    """(A, B): A copies run `a`; B copies run `b`, or `a` changed as the counterpart `kind` says."""
    for run in (a, b):
        if run is not None and run.is_cold_start:
            raise services.BenchmarkRefused(
                "Cold-start runs are not repeated as a series (each already measures several cold starts)."
            )
    first = _copy(a, "Run A", is_admin)
    if b is not None:
        return first, _copy(b, "Run B", is_admin)
    if kind not in services.COUNTERPARTS:
        raise services.BenchmarkRefused("Choose what B changes: pooled vs direct, or the parent branch.")
    return first, Side(*services.counterpart_options(a, kind, is_admin=is_admin))


def _copy(run: BenchmarkRun, what: str, is_admin: bool) -> Side:
    side = Side(run_options_of(run), isolation.chosen_branch(run))
    if run.project.is_neon and (side.branch is None or run.branch_id not in ("", side.branch.branch_id)):
        raise services.BenchmarkRefused(f"The branch of run #{run.pk} is no longer known to the dashboard.")
    services.refuse_default_branch_write(side.options, side.branch, is_admin=is_admin, what=what)
    return side


def describe_difference(first: Side, second: Side) -> str:
    """What B changes against A, for people: "connection pooled → direct; clients 1 → 4"."""
    changes = []
    if first.branch_id != second.branch_id:
        changes.append(f"branch {first.branch.name} → {second.branch.name}")
    for name in RUN_OPTIONS:
        before, after = first.options.get(name), second.options.get(name)
        if name not in SCRIPT_OPTIONS and before != after:
            changes.append(f"{name.replace('_', ' ')} {_shown(before)} → {_shown(after)}")
    if any(first.options.get(n) != second.options.get(n) for n in SCRIPT_OPTIONS):
        changes.append("the custom scripts")
    return "; ".join(changes) or "nothing: the same parameters twice (an A/A test of the noise)"


def _shown(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else str(value)


def time_limits(project, first: Side, second: Side, repetitions: int) -> tuple[int, int]:
    """(soft, hard) for the whole series: N times each side's own soft limit, then the hard allowance."""
    soft = repetitions * sum(
        services.time_limits(new_run(project, None, side.options, side.branch))[0] for side in (first, second)
    )
    return soft, soft + services.HARD_LIMIT_EXTRA_SECONDS


def refuse_unsafe_start(project, first: Side, second: Side) -> None:
    for side in (first, second):
        services.refuse_unsafe_start(project, side.options, side.branch)


def start_series(project, user, first: Side, second: Side, repetitions: int, *, baseline, candidate=None):
    """Create the series and queue its task; the first repetition starts when a worker takes it."""
    series = BenchmarkSeries(
        project=project,
        created_by=user,
        repetitions_each=repetitions,
        differs_in=describe_difference(first, second)[:200],
        baseline=baseline,
        candidate=candidate,
        a_options=first.options,
        b_options=second.options,
        a_branch_id=first.branch_id,
        b_branch_id=second.branch_id,
    )
    with transaction.atomic():
        services.save_and_queue(series, run_series, SERIES_KIND, "series_id",
                                time_limits(project, first, second, repetitions))  # fmt: skip
        audit.record(user, "benchmark.series_start", project=project, obj=series, repetitions=repetitions,
                     differs_in=series.differs_in, baseline=baseline.pk)  # fmt: skip
    return series


def request_cancel(series: BenchmarkSeries, user) -> str:
    """A queued series ends at once; a running one starts no further repetition and stops the current one."""
    if BenchmarkSeries.objects.filter(pk=series.pk, status=BenchmarkStatus.QUEUED).update(
        status=BenchmarkStatus.CANCELLED,
        cancel_requested=True,
        finished_at=timezone.now(),
        phase="Cancelled before it started",
    ):
        message = "The series was cancelled before it started."
    elif BenchmarkSeries.objects.filter(pk=series.pk, status=BenchmarkStatus.RUNNING).update(
        cancel_requested=True, phase="Cancelling…"
    ):
        # After the flag: a repetition created before it is stopped here, none is created after it.
        for run in series.repetitions.filter(status__in=ACTIVE_STATUSES):
            services.stop_run(run)
        message = "Cancelling the series: the running repetition stops within seconds and no other starts."
    else:
        return "The series had already ended."
    audit.record(user, "benchmark.series_cancel", project=series.project, obj=series)
    return message


# --- reading results -----------------------------------------------------------------------


@dataclass
class Repetition:
    side: str
    number: int
    run: BenchmarkRun | None  # None: its turn has not come (or never will: the series ended)


def repetitions(series: BenchmarkSeries) -> list[Repetition]:
    """Every planned repetition in running order, with its run once it exists."""
    runs = {(r.series_side, r.series_number): r for r in series.repetitions.all()}
    return [Repetition(side, number, runs.get((side, number))) for side, number in series.planned]


def comparison(series: BenchmarkSeries, planned: list[Repetition]) -> tuple[list, str]:
    """tps, p50 and p99 of B against A over the finished repetitions, or why there is none."""
    results = {"A": [], "B": []}
    for repetition in planned:
        result = services.run_result(repetition.run) if repetition.run else None
        if result is not None and repetition.run.status == BenchmarkStatus.FINISHED:
            results[repetition.side].append(result)
    if min(len(results["A"]), len(results["B"])) < 2:
        return [], "A comparison needs at least 2 finished repetitions of A and 2 of B."
    threshold = settings.BENCHMARK_SIGNIFICANCE_THRESHOLD
    try:
        return [
            compare_repeats(results["A"], results["B"], metric, threshold=threshold)
            for metric in services.METRICS
        ], ""
    except ValueError as exc:
        return [], f"These repetitions cannot be compared: {exc}."
