"""Task state in the dashboard database.

A view creates a TaskRun and enqueues a Celery task with its id (never secrets).
The worker claims the run with a conditional UPDATE, so a redelivered task does
not run twice, keeps a heartbeat while working, and records the outcome. Runs
whose worker died are found by their stale heartbeat and marked lost.
An error nothing else handled ends the run failed through `execute`, never "running".
A run whose task cannot be sent (the broker is down) is failed at once.

A run kind that leaves state behind while it runs (a project shown "Checking")
registers an `on_lost` hook, called when one of its runs ends without its task
having finished it: marked lost by `reconcile_stale`, or failed because it could not be queued.
"""

import logging
import traceback
from collections.abc import Callable
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from dashboard.common import audit
from dashboard.models import Outcome, Project, TaskRun, TaskStatus

log = logging.getLogger(__name__)

TIME_LIMIT_MESSAGE = "The task took too long and was stopped."
QUEUE_UNREACHABLE_MESSAGE = "The task queue is unreachable; the task will not run until it is back."
# Areas whose lost runs need settling beyond "lost" register a callable here (run after each reconcile).
RECONCILE_HOOKS: list[Callable[[], int]] = []

_on_lost_hooks: dict[str, list[Callable[[TaskRun], None]]] = {}


def on_lost(kind: str):
    """Decorator: call `hook(run)` when a run of `kind` ends without its task finishing it.

    That is, when reconcile_stale marks it lost or its task could not be queued; `run.error`
    says which. Hooks undo state the run left behind; they run after the run's row is updated.
    """

    def register(hook: Callable[[TaskRun], None]) -> Callable[[TaskRun], None]:
        _on_lost_hooks.setdefault(kind, []).append(hook)
        return hook

    return register


def _run_on_lost_hooks(run: TaskRun) -> None:
    for hook in _on_lost_hooks.get(run.kind, ()):
        try:
            with transaction.atomic():
                hook(run)
        except Exception as exc:  # one failing hook must not stop the reconciler for other runs
            log.error("on_lost hook %s for run %s failed: %s", hook.__name__, run.pk, type(exc).__name__)


def enqueue(
    task, kind: str, *, project=None, user=None, params: dict | None = None, options: dict | None = None
) -> TaskRun:
    """Create the run and send the task once the surrounding transaction commits.

    `options` go to apply_async (e.g. soft_time_limit and time_limit that follow a
    benchmark's requested duration). If the broker cannot be reached the run is failed at once (QUEUE_UNREACHABLE_MESSAGE) and
    its on_lost hooks run; callers check `queue_failed(run)` after the transaction to say so.
    """
    run = TaskRun.objects.create(kind=kind, project=project, created_by=user, params=params or {})
    transaction.on_commit(lambda: _send(task, run, options or {}))
    return run


def _send(task, run: TaskRun, options: dict) -> None:
    try:
        task.apply_async(args=[str(run.pk)], **options)
    except (OperationalError, OSError) as exc:
        log.error("Could not queue task run %s (%s): %s", run.pk, run.kind, type(exc).__name__)
        if _finish_if(
            run, TaskStatus.QUEUED, TaskStatus.FAILED, error=QUEUE_UNREACHABLE_MESSAGE, progress="Failed"
        ):
            _run_on_lost_hooks(run)


def queue_failed(run: TaskRun) -> bool:
    """True when the run's task could not be sent to the queue (after the enqueueing transaction)."""
    return run.status == TaskStatus.FAILED and run.error == QUEUE_UNREACHABLE_MESSAGE


def claim(run_id: str) -> TaskRun | None:
    """Move a queued run to running; returns None if another worker has it or it is done."""
    now = timezone.now()
    claimed = TaskRun.objects.filter(pk=run_id, status=TaskStatus.QUEUED).update(
        status=TaskStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    # run.project loads inside the task body (through `execute`): a credential that cannot be
    # decrypted then fails the run instead of leaving it running.
    return TaskRun.objects.get(pk=run_id) if claimed else None


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


def _finish_if(run: TaskRun, current: str, status: str, **fields) -> bool:
    """Finish the run only if it is still in `current` (a worker may have taken it meanwhile)."""
    fields.update(status=status, finished_at=timezone.now())
    if not TaskRun.objects.filter(pk=run.pk, status=current).update(**fields):
        return False
    for key, value in fields.items():
        setattr(run, key, value)
    return True


def execute(
    run: TaskRun,
    body: Callable[[TaskRun], None],
    *,
    audit_action: str = "",
    on_failure: Callable[[str], None] | None = None,
) -> None:
    """Run body(run); if an exception escapes it, end the run failed instead of leaving it running.

    `on_failure(message)` undoes task-specific state (e.g. a project left "checking"); with
    `audit_action`, the failure is audited for the person who started the run. The message
    names only the exception type: the text of a driver error can contain a connection string.
    """
    try:
        body(run)
    except Exception as exc:  # includes celery's SoftTimeLimitExceeded
        message = safe_error_message(exc)
        tb = "".join(traceback.format_tb(exc.__traceback__))
        log.error("Task run %s (%s) failed: %s\n%s", run.pk, run.kind, type(exc).__name__, tb)
        if on_failure is not None:
            on_failure(message)
        fail(run, message)
        if audit_action:
            project = _project_without_secrets(run)
            audit.record(
                run.created_by, audit_action, project=project, outcome=Outcome.FAILURE, error=message
            )


def _project_without_secrets(run: TaskRun):
    """The run's project without its encrypted columns (the error may be that they cannot be decrypted)."""
    if run.project_id is None:
        return None
    return Project.objects.only("pk", "team_id", "name", "slug").filter(pk=run.project_id).first()


def safe_error_message(exc: BaseException) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return TIME_LIMIT_MESSAGE
    return f"The task stopped on an unexpected error ({type(exc).__name__}); details are in the worker log."


def reconcile_stale() -> int:
    """Mark runs lost whose worker stopped sending heartbeats, or that no worker picked up for long.

    Queued runs get a longer threshold: they may wait behind long tasks, and marking a queued
    action lost means it will never happen. Each lost run's on_lost hooks then undo its state.
    """
    now = timezone.now()
    running_cutoff = now - timedelta(seconds=settings.TASK_STALE_AFTER_SECONDS)
    queued_cutoff = now - timedelta(seconds=settings.TASK_QUEUED_STALE_AFTER_SECONDS)
    lost = [
        *_mark_lost(
            TaskRun.objects.filter(status=TaskStatus.RUNNING, heartbeat_at__lt=running_cutoff),
            "The worker stopped reporting progress; the task was marked lost.",
            now,
        ),
        *_mark_lost(
            TaskRun.objects.filter(status=TaskStatus.QUEUED, created_at__lt=queued_cutoff),
            "No worker picked the task up in time; the task was marked lost.",
            now,
        ),
    ]
    for run in lost:
        _run_on_lost_hooks(run)
    return len(lost) + sum(hook() for hook in RECONCILE_HOOKS)


def _mark_lost(candidates, error: str, now) -> list[TaskRun]:
    """Mark the candidate runs lost; returns exactly the runs this call marked (rows locked meanwhile)."""
    with transaction.atomic():
        runs = list(candidates.select_for_update(skip_locked=True))
        TaskRun.objects.filter(pk__in=[run.pk for run in runs]).update(
            status=TaskStatus.LOST, finished_at=now, progress="Lost", error=error
        )
    for run in runs:
        run.status, run.finished_at, run.progress, run.error = TaskStatus.LOST, now, "Lost", error
    return runs
