"""Celery tasks of reviewed migrations: thin, take TaskRun ids, stable names, claim their run.

The work itself is in services/rehearse.py and services/apply.py; this module also
decides when a requested apply may start (its time has come and its compute is awake).
"""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from dashboard.models import TaskRun, TaskStatus
from dashboard.neon.state import compute_is_idle

# Dashboard code used here (import paths of today; the layout issue moves them).
from dashboard.taskruns import lifecycle as taskruns
from migrations_app.models import ApplyOutcome, ApplyRun, RequestState
from migrations_app.services import apply as apply_service
from migrations_app.services import rehearse as rehearse_service
from migrations_app.services import restore as restore_service

REHEARSE_KIND = "migrations.rehearse"
APPLY_KIND = "migrations.apply"
RESTORE_KIND = "migrations.restore"
IDLE_COMPUTE = "the compute is idle: wake it and the migration starts"


def enqueue_rehearsal(rehearsal, user):
    project = rehearsal.revision.request.project
    return taskruns.enqueue(
        rehearse_migration, REHEARSE_KIND, project=project, user=user, params={"rehearsal": rehearsal.pk}
    )


@shared_task(name="migrations.rehearse", soft_time_limit=900, time_limit=960)
def rehearse_migration(run_id: str) -> None:
    run = taskruns.claim(run_id)
    if run is not None:
        taskruns.execute(
            run,
            rehearse_service.run_rehearsal,
            audit_action="migration.rehearse",
            on_failure=lambda message: rehearse_service.rehearsal_failed(run, message),
        )


def _set_state(run: ApplyRun, state: str) -> None:
    req = run.revision.request
    req.state = state
    req.updated_at = timezone.now()
    req.save(update_fields=["state", "updated_at"])


def start_or_wait(run: ApplyRun) -> ApplyRun:
    """Enqueue the apply now, or leave it waiting for its time or for a person to wake the compute."""
    req = run.revision.request
    if run.apply_after and run.apply_after > timezone.now():
        run.waiting_for = f"not before {run.apply_after:%Y-%m-%d %H:%M} UTC"
    elif compute_is_idle(req.project, req.branch_id or None):
        run.waiting_for = IDLE_COMPUTE
    else:
        run.waiting_for = ""
        run.task_run = taskruns.enqueue(
            apply_migration,
            APPLY_KIND,
            project=req.project,
            user=run.started_by,
            params={"apply_run": run.pk},
        )
    run.save(update_fields=["waiting_for", "task_run"])
    _set_state(run, RequestState.SCHEDULED if run.waiting_for else RequestState.APPLYING)
    return run


@shared_task(name="migrations.apply", soft_time_limit=7200, time_limit=7260)
def apply_migration(run_id: str) -> None:
    run = taskruns.claim(run_id)
    if run is not None:
        taskruns.execute(
            run,
            apply_service.run_apply,
            audit_action="migration.apply",
            on_failure=lambda message: apply_service.apply_crashed(run, message),
        )


def start_due_applies() -> int:
    """Start waiting applies whose time has come and whose compute is awake (never wakes one)."""
    started = 0
    waiting = ApplyRun.objects.filter(outcome=ApplyOutcome.WAITING, task_run__isnull=True)
    for run in waiting.select_related("revision__request__project"):
        with transaction.atomic():
            if start_or_wait(run).task_run_id:
                started += 1
    return started


@shared_task(name="migrations.start_due_applies", soft_time_limit=60, time_limit=90)
def start_due_applies_task() -> int:
    return start_due_applies()


def cancel_apply(run: ApplyRun, user) -> str:
    """A waiting or queued apply is dropped at once; a running one is cancelled on the target."""
    if run.outcome == ApplyOutcome.WAITING:
        queued = run.task_run_id is None or taskruns_cancel_queued(run.task_run)
        if queued:
            run.outcome = ApplyOutcome.CANCELLED
            run.message = "Cancelled before it started."
            run.finished_at = timezone.now()
            run.save(update_fields=["outcome", "message", "finished_at"])
            _set_state(run, RequestState.APPROVED)
            return "The apply was cancelled before it started; the request is still approved."
    run.cancel_requested = True
    run.save(update_fields=["cancel_requested"])
    apply_service.cancel_running(run)
    return "Cancelling: the worker stops the running statement and records what was applied."


def taskruns_cancel_queued(task_run) -> bool:
    """End a run no worker has claimed yet; False if a worker already has it."""
    return bool(
        TaskRun.objects.filter(pk=task_run.pk, status=TaskStatus.QUEUED).update(
            status=TaskStatus.FAILED, error="Cancelled before a worker started it.", finished_at=timezone.now(),
            progress="Cancelled",
        )
    )  # fmt: skip


def enqueue_restore(run: ApplyRun, user):
    project = run.revision.request.project
    params = {"apply_run": run.pk, "preserve_under_name": restore_service.preserve_name(run)}
    return taskruns.enqueue(restore_branch, RESTORE_KIND, project=project, user=user, params=params)


@shared_task(name="migrations.restore", soft_time_limit=240, time_limit=300)
def restore_branch(run_id: str) -> None:
    run = taskruns.claim(run_id)
    if run is not None:
        taskruns.execute(run, restore_service.run_restore, audit_action="migration.restore")


from migrations_app.history import tasks as history_tasks  # noqa: E402,F401  (migration history)
