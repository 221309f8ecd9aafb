"""Benchmarks for the views: start, cancel and compare runs.

Starting checks the one-run-per-target rule and queues the run with Celery time limits
that follow its duration (the worker side is execution.py). Cancel sets a flag the
running engine polls, or ends a queued run at once.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.benchmarks import isolation
from dashboard.benchmarks.engine import ColdStartResult, RunResult, compare_runs
from dashboard.benchmarks.execution import KIND
from dashboard.benchmarks.models import (
    ACTIVE_STATUSES,
    BenchmarkRun,
    BenchmarkSeries,
    BenchmarkStatus,
    Workload,
    needs_admin_confirmation,
    new_run,
    run_options_of,
)
from dashboard.benchmarks.tasks import run_benchmark
from dashboard.common import audit
from dashboard.neon.state import compute_is_idle
from dashboard.taskruns import lifecycle

HARD_LIMIT_EXTRA_SECONDS = 120  # after the soft limit: time to stop workers and delete a temporary branch
COLD_START_SECONDS_EACH = 90  # suspend, wait for idle, wake and connect, at most
COUNTERPARTS = ("pooled-vs-direct", "parent-branch")
METRICS = ("tps", "p50", "p99")


class BenchmarkRefused(Exception):
    """The run cannot start; `message` says why (shown on the page)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- starting ------------------------------------------------------------------------------


def active_run(project, target_key: str) -> BenchmarkRun | None:
    return BenchmarkRun.objects.filter(
        project=project, target_key=target_key, status__in=ACTIVE_STATUSES
    ).first()


def active_series(project, target_key: str) -> BenchmarkSeries | None:
    """A queued or running series with a side on this target (it holds it between repetitions too)."""
    return (
        BenchmarkSeries.objects.filter(project=project, status__in=ACTIVE_STATUSES)
        .filter(Q(a_branch_id=target_key) | Q(b_branch_id=target_key))
        .first()
    )


def _busy_message(project, target_key: str) -> str:
    running, series = active_run(project, target_key), active_series(project, target_key)
    which = f" (run #{running.pk})" if running else (f" (series #{series.pk})" if series else "")
    return (
        f"A benchmark is already queued or running on this target{which}: one benchmark per target at a "
        "time. Wait for it to finish or cancel it."
    )


def time_limits(benchmark: BenchmarkRun) -> tuple[int, int]:
    """(soft, hard) Celery time limits: the requested duration plus the set-up and clean-up allowance."""
    if benchmark.is_cold_start:
        busy = benchmark.repeats * COLD_START_SECONDS_EACH
    else:
        busy = benchmark.planned_seconds + 30  # connecting and stopping the engine's workers
    soft = busy + settings.BENCHMARK_SETUP_ALLOWANCE_SECONDS
    return soft, soft + HARD_LIMIT_EXTRA_SECONDS


def start_benchmark(project, user, options: dict, branch=None, counterpart_of=None) -> BenchmarkRun:
    """Create the run and queue it; BenchmarkRefused when its target already has an active run."""
    benchmark = new_run(project, user, options, branch, counterpart_of=counterpart_of)
    soft, hard = time_limits(benchmark)
    try:
        with transaction.atomic():
            save_and_queue(benchmark, run_benchmark, KIND, "benchmark_id", (soft, hard))
            audit.record(user, "benchmark.start", project=project, obj=benchmark, workload=benchmark.workload,
                         clients=benchmark.clients, duration=benchmark.duration_seconds,
                         branch=benchmark.branch_name)  # fmt: skip
    except IntegrityError:  # the partial unique constraint: another run holds the target
        raise BenchmarkRefused(_busy_message(project, benchmark.target_key)) from None
    return benchmark


def save_and_queue(started, task, kind: str, id_name: str, limits: tuple[int, int]) -> None:
    """Save a run (or a series) and queue its task once the transaction commits, with (soft, hard) limits."""
    started.save()
    started.task_run = lifecycle.enqueue(
        task,
        kind,
        project=started.project,
        user=started.created_by,
        params={id_name: started.pk},
        options={"soft_time_limit": limits[0], "time_limit": limits[1]},
    )
    started.save(update_fields=["task_run"])


def refuse_unsafe_start(project, options: dict, branch) -> None:
    """Refuse before queueing: a busy target, or an idle compute used directly without "wake".

    The worker checks the compute again before connecting (it may have suspended meanwhile).
    """
    target_key = branch.branch_id if branch else ""
    if active_run(project, target_key) is not None or active_series(project, target_key) is not None:
        raise BenchmarkRefused(_busy_message(project, target_key))
    direct_on_neon = project.is_neon and not options.get("use_temporary_branch")
    cold_start = options.get("workload") == Workload.COLD_START
    if (
        direct_on_neon
        and not cold_start
        and not options.get("wake_compute")
        and compute_is_idle(project, branch)
    ):
        name = branch.name if branch else "the default branch"
        raise BenchmarkRefused(
            f"The compute of {name} is idle (suspended). A benchmark does not wake it unless you tick "
            "“Wake the compute”, or keep the temporary branch (its own compute)."
        )


def counterpart_options(benchmark: BenchmarkRun, kind: str, *, is_admin: bool) -> tuple[dict, object]:
    """The same parameters with the connection flipped, or on the parent branch: (options, branch)."""
    options = run_options_of(benchmark)
    branch = isolation.chosen_branch(benchmark)
    if kind == "pooled-vs-direct":
        options["connection"] = "direct" if benchmark.connection == "pooled" else "pooled"
    else:
        branch = isolation.parent_branch(benchmark.project, branch)
        if branch is None:
            raise BenchmarkRefused("This run's branch has no parent branch known to the dashboard.")
    refuse_default_branch_write(options, branch, is_admin=is_admin, what="The counterpart")
    return options, branch


def refuse_default_branch_write(options: dict, branch, *, is_admin: bool, what: str) -> None:
    """A copied run that writes to (or suspends) the default branch itself: only an admin who confirmed."""
    on_default = branch is not None and branch.is_default
    if needs_admin_confirmation(options["workload"], on_default_branch=on_default,
                                use_temporary_branch=options["use_temporary_branch"]) and not (
        is_admin and options["confirmed_default_branch_write"]
    ):  # fmt: skip
        raise BenchmarkRefused(
            f"{what} would write to the default branch itself: an admin starts it from the form, "
            "with the confirmation."
        )


# --- cancelling ----------------------------------------------------------------------------


def request_cancel(benchmark: BenchmarkRun, user) -> str:
    """Cancel a queued run at once; ask a running one to stop (the engine stops within seconds)."""
    message = stop_run(benchmark)
    if message is None:
        return "The benchmark had already ended."
    audit.record(user, "benchmark.cancel", project=benchmark.project, obj=benchmark)
    return message


def stop_run(benchmark: BenchmarkRun) -> str | None:
    """End a queued run, or flag a running one; None when it had already ended."""
    if BenchmarkRun.objects.filter(pk=benchmark.pk, status=BenchmarkStatus.QUEUED).update(
        status=BenchmarkStatus.CANCELLED,
        cancel_requested=True,
        finished_at=timezone.now(),
        phase="Cancelled before it started",
    ):
        return "The benchmark was cancelled before it started."
    if BenchmarkRun.objects.filter(pk=benchmark.pk, status=BenchmarkStatus.RUNNING).update(
        cancel_requested=True, phase="Cancelling…"
    ):
        return "Cancelling: the benchmark stops within a few seconds and cleans up."
    return None


# --- reading results -----------------------------------------------------------------------


def run_result(benchmark: BenchmarkRun) -> RunResult | None:
    if benchmark.is_cold_start or not benchmark.result:
        return None
    return RunResult.from_dict(benchmark.result)


def cold_start_result(benchmark: BenchmarkRun) -> ColdStartResult | None:
    if not benchmark.is_cold_start or not benchmark.result.get("samples"):
        return None
    return ColdStartResult.from_dict(benchmark.result)


def compare(a: BenchmarkRun, b: BenchmarkRun) -> tuple[list, str]:
    """tps, p50 and p99 comparisons of B against A, or a reason why they cannot be compared."""
    first, second = run_result(a), run_result(b)
    if first is None or second is None:
        return [], "Both runs need results of a pgbench-style workload (cold-start runs are not compared)."
    threshold = settings.BENCHMARK_SIGNIFICANCE_THRESHOLD
    try:
        return [compare_runs(first, second, metric, threshold=threshold) for metric in METRICS], ""
    except ValueError as exc:
        return [], f"These runs cannot be compared: {exc}."
