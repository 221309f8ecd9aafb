"""Running one benchmark on a worker: the body of the `benchmarks.run` task.

Inside the task's `lifecycle.execute`: claim the benchmark (queued -> running, so a
run cancelled while queued never starts), put it on a safe target (isolation.py: a
temporary Neon branch, or pgbench's tables in their own schema, cleaned up afterwards
also on failure or cancel), call the engine, and store its RunResult (or
ColdStartResult) as JSON, one progress point per second, and how it ended.
"""

import time

from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from dashboard.benchmarks import isolation
from dashboard.benchmarks.engine import (
    ColdStartError,
    RunConfig,
    RunError,
    builtin_script,
    measure_cold_starts,
    parse_script,
    run,
)
from dashboard.benchmarks.models import ACTIVE_STATUSES, BenchmarkRun, BenchmarkStatus, Workload
from dashboard.common import audit
from dashboard.models import Outcome, TaskRun
from dashboard.neon.client import NeonAPIError
from dashboard.targets.connect import TargetError
from dashboard.taskruns import lifecycle

KIND = "benchmarks.run"
CANCEL_POLL_SECONDS = 0.5


class _Recorder:
    """Stores progress once a second, keeps the task's heartbeat, and tells the engine to stop."""

    def __init__(self, benchmark: BenchmarkRun, task_run: TaskRun):
        self.benchmark = benchmark
        self.task_run = task_run
        self.points: list[dict] = []
        self._checked_at = 0.0
        self._cancelled = False

    def phase(self, text: str) -> None:
        BenchmarkRun.objects.filter(pk=self.benchmark.pk).update(phase=text[:200])
        lifecycle.heartbeat(self.task_run, text)

    def progress(self, p) -> None:
        point = p.point
        self.points.append({"second": point.second, "tps": point.tps, "p50_ms": point.p50_ms,
                            "p99_ms": point.p99_ms, "errors": point.errors, "warmup": point.warmup})  # fmt: skip
        text = (
            f"{p.elapsed_seconds} of {p.planned_seconds} s, {p.transactions} transactions, {p.errors} errors"
        )
        BenchmarkRun.objects.filter(pk=self.benchmark.pk).update(progress=self.points, phase=text)
        lifecycle.heartbeat(self.task_run, text)

    def cancelled(self) -> bool:
        """Polled by the engine ~10 times a second; the database is asked at most twice a second."""
        now = time.monotonic()
        if not self._cancelled and now - self._checked_at >= CANCEL_POLL_SECONDS:
            self._checked_at = now
            self._cancelled = BenchmarkRun.objects.filter(
                pk=self.benchmark.pk, cancel_requested=True
            ).exists()
        return self._cancelled


def execute_benchmark(task_run: TaskRun) -> None:
    """The task body: claim the benchmark, run it on a safe target, store how it ended."""
    benchmark = BenchmarkRun.objects.select_related("project").get(task_run=task_run)
    started = BenchmarkRun.objects.filter(pk=benchmark.pk, status=BenchmarkStatus.QUEUED).update(
        status=BenchmarkStatus.RUNNING, started_at=timezone.now(), phase="Starting"
    )
    if not started:  # cancelled while queued
        lifecycle.succeed(task_run, {"cancelled": True}, progress="Cancelled before it started")
        return
    recorder = _Recorder(benchmark, task_run)
    try:
        with isolation.prepared_target(benchmark, recorder.phase, recorder.cancelled) as target:
            result = _measure(benchmark, target, recorder)
    except (TargetError, RunError, ColdStartError, NeonAPIError, isolation.TargetRefused) as exc:
        _fail(benchmark, task_run, getattr(exc, "message", None) or str(exc))
        return
    except SoftTimeLimitExceeded:
        _fail(benchmark, task_run, "The benchmark took longer than its time limit and was stopped.")
        return
    cancelled = bool(result.get("cancelled")) or recorder.cancelled()
    status = BenchmarkStatus.CANCELLED if cancelled else BenchmarkStatus.FINISHED
    _end(benchmark, status, result=result, phase="Cancelled" if cancelled else "Finished")
    lifecycle.succeed(task_run, {"benchmark_id": benchmark.pk, "status": status}, progress=status.label)
    audit.record(benchmark.created_by, "benchmark.run", project=benchmark.project, obj=benchmark,
                 status=status.value, tps=result.get("tps"))  # fmt: skip


def fail_unexpectedly(task_run: TaskRun, message: str) -> None:
    """lifecycle.execute's on_failure: an error nothing handled still ends the benchmark failed."""
    BenchmarkRun.objects.filter(task_run=task_run, status__in=ACTIVE_STATUSES).update(
        status=BenchmarkStatus.FAILED, error=message, finished_at=timezone.now(), phase="Failed"
    )


def _fail(benchmark: BenchmarkRun, task_run: TaskRun, message: str) -> None:
    _end(benchmark, BenchmarkStatus.FAILED, error=message, phase="Failed")
    lifecycle.fail(task_run, message)
    audit.record(benchmark.created_by, "benchmark.run", project=benchmark.project, obj=benchmark,
                 outcome=Outcome.FAILURE, error=message)  # fmt: skip


def _end(benchmark: BenchmarkRun, status: str, **fields) -> None:
    fields.update(status=status, finished_at=timezone.now())
    BenchmarkRun.objects.filter(pk=benchmark.pk).update(**fields)


def scripts_for(benchmark: BenchmarkRun) -> tuple:
    if benchmark.workload == Workload.CUSTOM:  # one or several, each drawn by its weight
        return tuple(
            parse_script(s["text"], name=s["name"], weight=s["weight"]) for s in benchmark.custom_scripts
        )
    return (builtin_script(benchmark.workload),)


def _measure(benchmark: BenchmarkRun, target, recorder: _Recorder) -> dict:
    if benchmark.is_cold_start:
        recorder.phase(f"Measuring {benchmark.repeats} cold starts (suspending and waking the compute)")
        result = measure_cold_starts(
            target.compute,
            target.compute.waking(target.connect),
            repeats=benchmark.repeats,
            idle_timeout_seconds=60,
            poll_seconds=0.25,
            cancel=recorder.cancelled,
        )
        return {"kind": "cold-start", **result.to_dict()}
    config = RunConfig(
        target.settings,
        scripts_for(benchmark),
        clients=benchmark.clients,
        duration_seconds=benchmark.duration_seconds,
        warmup_seconds=benchmark.warmup_seconds,
        rate=benchmark.rate,
        protocol=benchmark.protocol,
        reconnect=benchmark.reconnect,
        scale=benchmark.scale,
    )
    recorder.phase("Connecting the clients")
    return run(config, progress=recorder.progress, cancel=recorder.cancelled).to_dict()
