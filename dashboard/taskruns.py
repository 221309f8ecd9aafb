"""Task state in the dashboard database.

A view creates a TaskRun and enqueues a Celery task with its id (never secrets).
The worker claims the run with a conditional UPDATE, so a redelivered task does
not run twice, keeps a heartbeat while working, and records the outcome. Runs
whose worker died are found by their stale heartbeat and marked lost.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from dashboard.models import TaskRun
from dashboard.models.core import TaskStatus


def enqueue(task, kind: str, *, project=None, user=None, params: dict | None = None) -> TaskRun:
    """Create the run and send the task once the surrounding transaction commits."""
    run = TaskRun.objects.create(kind=kind, project=project, created_by=user, params=params or {})
    task.delay_on_commit(str(run.pk))
    return run


def claim(run_id: str) -> TaskRun | None:
    """Move a queued run to running; returns None if another worker has it or it is done."""
    now = timezone.now()
    claimed = TaskRun.objects.filter(pk=run_id, status=TaskStatus.QUEUED).update(
        status=TaskStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    return TaskRun.objects.select_related("project").get(pk=run_id) if claimed else None


def heartbeat(run: TaskRun, progress: str = "") -> None:
    fields = {"heartbeat_at": timezone.now()}
    if progress:
        fields["progress"] = progress[:200]
        run.progress = progress[:200]
    TaskRun.objects.filter(pk=run.pk).update(**fields)


def succeed(run: TaskRun, result: dict | None = None, progress: str = "Done") -> None:
    _finish(run, TaskStatus.SUCCEEDED, result=result or {}, progress=progress)


def fail(run: TaskRun, error: str, result: dict | None = None) -> None:
    _finish(run, TaskStatus.FAILED, error=error, result=result or {}, progress="Failed")


def _finish(run: TaskRun, status: str, **fields) -> None:
    fields.update(status=status, finished_at=timezone.now(), heartbeat_at=timezone.now())
    TaskRun.objects.filter(pk=run.pk).update(**fields)
    for key, value in fields.items():
        setattr(run, key, value)


def reconcile_stale() -> int:
    """Mark runs lost whose worker stopped sending heartbeats (or never picked them up)."""
    cutoff = timezone.now() - timedelta(seconds=settings.TASK_STALE_AFTER_SECONDS)
    stale = Q(status=TaskStatus.RUNNING, heartbeat_at__lt=cutoff) | Q(
        status=TaskStatus.QUEUED, created_at__lt=cutoff
    )
    return TaskRun.objects.filter(stale).update(
        status=TaskStatus.LOST,
        finished_at=timezone.now(),
        progress="Lost",
        error="The worker stopped reporting progress; the task was marked lost.",
    )
