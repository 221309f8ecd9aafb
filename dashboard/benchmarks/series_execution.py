"""Running a benchmark series on a worker: the body of task `benchmarks.series`.

The repetitions A1, B1, A2, B2 ... run one after another inside this one task, each as a
normal benchmark run (its own TaskRun, temporary branch or schema, clean-up and page)
through the body of task `benchmarks.run`, called here rather than queued. A repetition
is created only when its turn comes, so "one benchmark per target at a time" holds
throughout (and services.active_series keeps other runs off the target in between). The
cancel flag is read under a row lock before each repetition starts, so no repetition
starts after a cancel; the running one is stopped by its own cancel flag. A failed or
cancelled repetition ends the series.
"""

import threading
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from dashboard.benchmarks.execution import KIND
from dashboard.benchmarks.models import (
    ACTIVE_STATUSES,
    BenchmarkRun,
    BenchmarkSeries,
    BenchmarkStatus,
    new_run,
)
from dashboard.common import audit
from dashboard.models import Outcome, TaskRun
from dashboard.neon.state import resolve_branch
from dashboard.taskruns import lifecycle

SERIES_KIND = "benchmarks.series"


def execute_series(task_run: TaskRun, run_repetition: Callable[[str], None]) -> None:
    """The task body: claim the series, run its repetitions with `run_repetition(task_run_id)`."""
    series = BenchmarkSeries.objects.select_related("project", "created_by").get(task_run=task_run)
    started = BenchmarkSeries.objects.filter(pk=series.pk, status=BenchmarkStatus.QUEUED).update(
        status=BenchmarkStatus.RUNNING, started_at=timezone.now(), phase="Starting"
    )
    if not started:  # cancelled while queued
        lifecycle.succeed(task_run, {"cancelled": True}, progress="Cancelled before it started")
        return
    with _heartbeats(task_run):
        status, error = _run_repetitions(series, task_run, run_repetition)
    BenchmarkSeries.objects.filter(pk=series.pk).update(
        status=status, error=error, phase=status.label, finished_at=timezone.now()
    )
    if status == BenchmarkStatus.FAILED:
        lifecycle.fail(task_run, error)
    else:
        lifecycle.succeed(task_run, {"series_id": series.pk, "status": status}, progress=status.label)
    outcome = Outcome.FAILURE if status == BenchmarkStatus.FAILED else Outcome.SUCCESS
    audit.record(series.created_by, "benchmark.series_run", project=series.project, obj=series,
                 outcome=outcome, status=status.value, error=error)  # fmt: skip


def _run_repetitions(
    series: BenchmarkSeries, task_run: TaskRun, run_repetition
) -> tuple[BenchmarkStatus, str]:
    planned = series.planned
    for done, (side, number) in enumerate(planned):
        label = f"{side}{number}"
        try:
            benchmark = _next_repetition(series, side, number)
        except _CannotStart as exc:
            return BenchmarkStatus.FAILED, f"Repetition {label} could not start: {exc}"
        if benchmark is None:
            return BenchmarkStatus.CANCELLED, ""
        text = f"Repetition {label} (run #{benchmark.pk}), {done + 1} of {len(planned)}"
        BenchmarkSeries.objects.filter(pk=series.pk, cancel_requested=False).update(phase=text)
        lifecycle.heartbeat(task_run, text)
        run_repetition(str(benchmark.task_run_id))
        benchmark.refresh_from_db(fields=["status", "error"])
        if benchmark.status == BenchmarkStatus.FAILED:
            return (
                BenchmarkStatus.FAILED,
                f"Repetition {label} (run #{benchmark.pk}) failed: {benchmark.error}",
            )
        if benchmark.status != BenchmarkStatus.FINISHED:
            return BenchmarkStatus.CANCELLED, ""
    return BenchmarkStatus.FINISHED, ""


class _CannotStart(Exception):
    pass


def _next_repetition(series: BenchmarkSeries, side: str, number: int) -> BenchmarkRun | None:
    """The repetition's run, queued with its own TaskRun; None once the series is cancelled."""
    options, branch_id = (
        (series.a_options, series.a_branch_id) if side == "A" else (series.b_options, series.b_branch_id)
    )
    branch = resolve_branch(series.project, branch_id or None)
    if series.project.is_neon and (branch is None or branch.branch_id != branch_id):
        raise _CannotStart("its branch is no longer known to the dashboard (sync the branches).")
    try:
        with transaction.atomic():
            if BenchmarkSeries.objects.select_for_update().get(pk=series.pk).cancel_requested:
                return None
            benchmark = new_run(series.project, series.created_by, options, branch,
                                series=series, series_side=side, series_number=number)  # fmt: skip
            benchmark.save()
            benchmark.task_run = TaskRun.objects.create(
                kind=KIND, project=series.project, created_by=series.created_by,
                params={"benchmark_id": benchmark.pk, "series_id": series.pk},
            )  # fmt: skip
            benchmark.save(update_fields=["task_run"])
    except IntegrityError:  # another run took the target (the partial unique constraint)
        raise _CannotStart(
            "another benchmark is queued or running on its target (one benchmark per target at a time)."
        ) from None
    return benchmark


@contextmanager
def _heartbeats(task_run: TaskRun):
    """Keep the series' own heartbeat while a repetition runs (it beats only its own TaskRun)."""
    stop = threading.Event()
    every = max(1.0, settings.TASK_STALE_AFTER_SECONDS / 5)

    def beat():
        try:
            while not stop.wait(every):
                lifecycle.heartbeat(task_run)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"series-heartbeat-{task_run.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


@lifecycle.on_lost(SERIES_KIND)
def end_series(task_run: TaskRun, message: str = "") -> None:
    """The series ends failed when its task did not finish it (an unexpected error, a lost worker).

    A repetition it had created but not started would hold its target: it is cancelled too.
    """
    now = timezone.now()
    BenchmarkSeries.objects.filter(task_run=task_run, status__in=ACTIVE_STATUSES).update(
        status=BenchmarkStatus.FAILED, error=message or task_run.error, finished_at=now, phase="Failed"
    )
    BenchmarkRun.objects.filter(series__task_run=task_run, status=BenchmarkStatus.QUEUED).update(
        status=BenchmarkStatus.CANCELLED, finished_at=now, phase="Cancelled: its series ended"
    )
