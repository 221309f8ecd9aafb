"""Settling benchmark runs whose worker died, and deleting the temporary branches they left behind.

A run cleans up after itself (isolation.py), but not when its worker process is killed
(SIGKILL, the out-of-memory killer, the Celery hard time limit) or its own clean-up could
not reach Neon. Then:

- `end_lost_run` (an on_lost hook of task `benchmarks.run`, see tasks.py): the run whose task
  was marked lost, or never queued, ends failed, so its target takes new runs again;
- `delete_leftover_branches` (a reconcile hook, run every minute with
  `taskruns.reconcile_stale`): the temporary branch of every run that is no longer active and
  whose branch is not known to be deleted is deleted through the Neon API (a branch Neon no
  longer has counts as deleted). A branch that still cannot be deleted is retried at the next
  sweep, for SWEEP_MAX_AGE after its run ended; the run's page says to delete it by hand.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from dashboard.benchmarks import isolation
from dashboard.benchmarks.models import ACTIVE_STATUSES, BenchmarkRun, BenchmarkStatus
from dashboard.common import audit
from dashboard.models import TaskRun
from dashboard.neon.client import NeonAPIError
from dashboard.neon.sync import client_for

log = logging.getLogger(__name__)

LOST_MESSAGE = "The benchmark's worker stopped before the run ended (it was killed or ran out of time)."
SWEEP_MAX_AGE = timedelta(days=7)
SWEEP_BATCH = 20  # branches per sweep, so one sweep stays short even after many lost runs


def end_lost_run(task_run: TaskRun) -> None:
    """The run of a lost (or never queued) task ends failed with the task's reason."""
    BenchmarkRun.objects.filter(task_run=task_run, status__in=ACTIVE_STATUSES).update(
        status=BenchmarkStatus.FAILED,
        error=f"{LOST_MESSAGE} {task_run.error}".strip(),
        finished_at=timezone.now(),
        phase="Failed",
    )


def leftover_branches():
    """Runs that are over but whose temporary branch is not known to be deleted, oldest first."""
    return (
        BenchmarkRun.objects.exclude(status__in=ACTIVE_STATUSES)
        .exclude(temporary_branch_id="")
        .filter(temporary_branch_deleted=False, finished_at__gte=timezone.now() - SWEEP_MAX_AGE)
        .select_related("project")
        .order_by("finished_at", "pk")
    )


def delete_leftover_branches() -> int:
    """Delete the leftover temporary branches through the Neon API; returns how many are gone now."""
    deleted = 0
    for benchmark in leftover_branches()[:SWEEP_BATCH]:
        branch_id = benchmark.temporary_branch_id
        try:
            with client_for(benchmark.project) as client:
                isolation.delete_temporary_branch(client, benchmark, branch_id)
        except NeonAPIError as exc:  # the API key cannot be read: say so on the run's page, retry later
            isolation.note_branch_left(benchmark, branch_id, exc.message)
            continue
        if BenchmarkRun.objects.filter(pk=benchmark.pk, temporary_branch_deleted=True).exists():
            BenchmarkRun.objects.filter(pk=benchmark.pk).update(cleanup_error="")
            audit.record(
                None, "benchmark.cleanup", project=benchmark.project, obj=benchmark, branch=branch_id
            )
            deleted += 1
    return deleted
