"""Applying an approved revision on a worker, through the engine, over the DIRECT connection.

The worker records progress on the TaskRun (the page polls it) and the steps on the
ApplyRun. A side thread sends heartbeats during long statements and notices a cancel
request, which the engine turns into a cancel of the running statement. Afterwards the
schema is read again: the diff is stored, compared with the rehearsal's, and a
snapshot with source "change" is queued for the schema pages.

A run whose worker died is settled by `reconcile_lost_applies` from the target's own
history table: applied, partly applied (steps i-j of n) or not applied, never running.
"""

import logging
import threading
import time

import psycopg
from django.db import connection
from django.utils import timezone

# Dashboard code used here (import paths of today; the layout issue moves them).
from dashboard.common import audit
from dashboard.models import Outcome, SnapshotSource, TaskRun, TaskStatus
from dashboard.neon.state import compute_is_idle
from dashboard.schema.tasks import request_snapshot
from dashboard.targets.connect import TargetError
from dashboard.taskruns import lifecycle as taskruns
from migrations_app.engine import apply as engine_apply
from migrations_app.engine import history
from migrations_app.engine.plan import build_plan
from migrations_app.models import (
    ApplyOutcome,
    ApplyRun,
    ProjectMigrationPolicy,
    RehearsalStatus,
    RequestState,
)
from migrations_app.services import target

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
IDLE_MESSAGE = "the compute is idle: wake it and the migration starts"
STATE_AFTER = {
    ApplyOutcome.APPLIED: RequestState.APPLIED,
    ApplyOutcome.PARTLY_APPLIED: RequestState.PARTLY_APPLIED,
    ApplyOutcome.NOT_APPLIED: RequestState.FAILED,
    ApplyOutcome.CANCELLED: RequestState.APPROVED,
}


class Watch(threading.Thread):
    """Heartbeats for the TaskRun and a watch on the cancel flag, in a thread of its own."""

    def __init__(self, task_run: TaskRun, apply_run_id: int):
        super().__init__(name="migration-apply-watch", daemon=True)
        self.task_run, self.apply_run_id = task_run, apply_run_id
        self.cancel = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(HEARTBEAT_SECONDS / 4):
                if ApplyRun.objects.filter(pk=self.apply_run_id, cancel_requested=True).exists():
                    self.cancel.set()
                TaskRun.objects.filter(pk=self.task_run.pk).update(heartbeat_at=timezone.now())
        except Exception:  # the apply goes on; the reconciler covers a worker without heartbeats
            log.warning("Heartbeat thread of apply run %s stopped", self.apply_run_id, exc_info=True)
        finally:
            connection.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join(timeout=5)


def _finish_request(run: ApplyRun, outcome: str) -> None:
    req = run.revision.request
    req.state = STATE_AFTER.get(outcome, RequestState.FAILED)
    req.updated_at = timezone.now()
    req.save(update_fields=["state", "updated_at"])


def _step_rows(plan, result) -> list[dict]:
    """One row per step for the page: applied, applied earlier, failed, rolled back or not run."""
    reports: dict[int, list] = {}
    for report in result.statements:
        reports.setdefault(report.step, []).append(report)
    failed_step = result.error.step if result.error else None
    rows = []
    for step in plan.steps:
        done = reports.get(step.number, [])
        if step.number in result.steps_already_applied:
            status = "applied earlier"
        elif step.number in result.steps_applied:
            status = "applied"
        elif step.number == failed_step:
            status = "failed, rolled back" if step.transactional else "failed"
        else:
            status = "not run"
        rows.append(
            {
                "number": step.number,
                "label": step.label,
                "status": status,
                "duration_ms": sum(r.duration_ms for r in done) if done and status == "applied" else None,
                "retries": max((r.attempts - 1 for r in done), default=0),
                "error": result.error.describe() if step.number == failed_step and result.error else "",
            }
        )
    return rows


def _outcome_of(result) -> str:
    if result.status == engine_apply.APPLIED:
        return ApplyOutcome.APPLIED
    recorded = result.steps_recorded
    if recorded:
        return ApplyOutcome.PARTLY_APPLIED
    if result.status == engine_apply.CANCELLED:
        return ApplyOutcome.CANCELLED
    return ApplyOutcome.NOT_APPLIED


def _wait_for_compute(task_run: TaskRun, run: ApplyRun) -> None:
    run.waiting_for, run.task_run = IDLE_MESSAGE, None
    run.save(update_fields=["waiting_for", "task_run"])
    req = run.revision.request
    req.state = RequestState.SCHEDULED
    req.save(update_fields=["state"])
    taskruns.succeed(task_run, {"waiting": "compute idle"}, progress="Not started: the compute is idle")


def run_apply(task_run: TaskRun) -> None:
    run = ApplyRun.objects.select_related("revision__request__project").get(pk=task_run.params["apply_run"])
    req = run.revision.request
    project = req.project
    if run.outcome != ApplyOutcome.WAITING or run.cancel_requested:
        taskruns.succeed(task_run, {"skipped": run.outcome}, progress="Nothing to do")
        return
    if compute_is_idle(project, req.branch_id or None):
        _wait_for_compute(task_run, run)
        return
    plan = build_plan(run.revision.sql)
    policy = ProjectMigrationPolicy.for_project(project)
    run.outcome, run.started_at, run.steps_total = ApplyOutcome.RUNNING, timezone.now(), len(plan.steps)
    run.save(update_fields=["outcome", "started_at", "steps_total"])
    req.state = RequestState.APPLYING
    req.save(update_fields=["state"])
    taskruns.heartbeat(task_run, "Connecting to the target (direct connection)")
    applied = None
    try:
        with target.open_request_target(req, policy) as opened, Watch(task_run, run.pk) as watch:
            applied = _apply_with_schema(opened.conn, plan, run, policy, task_run, watch)
    except engine_apply.ApplyRefused as exc:
        _end(task_run, run, ApplyOutcome.NOT_APPLIED, str(exc))
        return
    except TargetError as exc:
        if applied is None:  # connecting failed, or the session was lost before the engine answered
            _connection_failed(task_run, run, exc.message)
            return
    result, before, after, waited = applied
    run.lsn_before = result.lsn_before or ""
    run.steps = _step_rows(plan, result)
    outcome = _outcome_of(result)
    if before is not None and after is not None:
        run.diff = target.diff_json(before, after)
        rehearsal = run.revision.rehearsals.filter(
            checksum=run.checksum, status=RehearsalStatus.SUCCEEDED
        ).first()
        run.diff_mismatch = target.diff_mismatch(rehearsal.diff if rehearsal else None, run.diff)
    message = " ".join([*waited, result.message, *result.notes])
    _end(task_run, run, outcome, message)
    if result.steps_applied:
        request_snapshot(project, user=run.started_by, source=SnapshotSource.CHANGE, branch_id=req.branch_id)


def _connection_failed(task_run: TaskRun, run: ApplyRun, message: str) -> None:
    """Before the engine started nothing was sent; after, the target's own history says what stuck."""
    if run.time_before is None:
        _end(task_run, run, ApplyOutcome.NOT_APPLIED, f"{message} Nothing was applied.")
    elif settle_from_history(run, message):
        taskruns.fail(task_run, run.message, result={"outcome": run.outcome})
    else:  # still "running": the reconciler settles it once the target answers again
        taskruns.fail(task_run, message)


def _apply_with_schema(conn, plan, run: ApplyRun, policy, task_run, watch: Watch):
    """Schema before, the engine's apply, schema after (the reads never fail the apply)."""
    before = _schema_or_none(conn)
    run.time_before = timezone.now()
    run.save(update_fields=["time_before"])

    waits = WaitNotes()

    def on_progress(progress) -> None:
        taskruns.heartbeat(task_run, progress.message)
        waits.see(progress)

    result = engine_apply.apply_migration(
        conn,
        plan,
        migration_id=target.migration_id(run.revision),
        checksum=run.checksum,
        settings=target.apply_settings(policy, run.started_by),
        on_progress=on_progress,
        should_cancel=watch.cancel.is_set,
    )
    after = _schema_or_none(conn) if before is not None else None
    return result, before, after, waits.notes()


class WaitNotes:
    """Remembers a wait for another apply on the same database, so the run's message still says so."""

    def __init__(self):
        self.started, self.ended, self.why = None, None, ""

    def see(self, progress) -> None:
        if progress.event == engine_apply.WAITING_FOR_APPLY:
            self.started, self.why = time.monotonic(), progress.message
        elif self.started is not None and self.ended is None:
            self.ended = time.monotonic()

    def notes(self) -> list[str]:
        if self.started is None:
            return []
        waited = (self.ended or time.monotonic()) - self.started
        return [self.why.replace("Waiting for another apply", f"Waited {waited:.1f} s for another apply", 1)]


def _schema_or_none(conn):
    try:
        return target.read_schema(conn)
    except psycopg.Error:
        return None


def _end(task_run: TaskRun, run: ApplyRun, outcome: str, message: str) -> None:
    run.outcome, run.message, run.finished_at = outcome, message.strip(), timezone.now()
    run.save()
    _finish_request(run, outcome)
    label = ApplyOutcome(outcome).label
    if outcome == ApplyOutcome.APPLIED:
        taskruns.succeed(task_run, {"outcome": outcome}, progress=f"{label}: {run.steps_total} step(s)")
    else:
        taskruns.fail(task_run, run.message, result={"outcome": outcome})
    req = run.revision.request
    audit.record(run.started_by, "migration.applied", project=req.project, obj=req, outcome=(
        Outcome.SUCCESS if outcome == ApplyOutcome.APPLIED else Outcome.FAILURE), result=outcome,
        revision=run.revision.number)  # fmt: skip


def cancel_running(run: ApplyRun) -> None:
    """Nothing more to do here: the worker's watch thread sees cancel_requested within a second."""


# --- after a crash -------------------------------------------------------------------------------


def settle_from_history(run: ApplyRun, why: str) -> bool:
    """Set the outcome of a run whose worker is gone from the target's history. False: unreachable."""
    req = run.revision.request
    policy = ProjectMigrationPolicy.for_project(req.project)
    total = run.steps_total or len(run.revision.steps) or None
    try:
        with target.open_request_target(req, policy) as opened:
            recorded = history.read_history(opened.conn, target.migration_id(run.revision), steps_total=total)
    except TargetError as exc:
        run.message = f"{why} The target's history could not be read ({exc.message}); retrying later."
        run.save(update_fields=["message"])
        return False
    outcome = {
        "applied": ApplyOutcome.APPLIED,
        "partly applied": ApplyOutcome.PARTLY_APPLIED,
        "not applied": ApplyOutcome.NOT_APPLIED,
    }[recorded.state]
    run.outcome, run.finished_at = outcome, timezone.now()
    run.message = f"{why} The target's history says: {recorded.describe()}."
    run.steps = [
        {**step, "status": "applied" if step["number"] in recorded.step_numbers else "not applied"}
        for step in (run.steps or [{"number": s["number"], "label": s["label"]} for s in run.revision.steps])
    ]
    run.save()
    _finish_request(run, outcome)
    audit.record(None, "migration.reconciled", project=req.project, obj=req, result=outcome)
    return True


def apply_crashed(task_run: TaskRun, message: str) -> None:
    """`taskruns.execute` caught an unexpected error: settle the run from the target's history."""
    run = ApplyRun.objects.filter(task_run=task_run).select_related("revision__request__project").first()
    if run is not None and run.is_active:
        settle_from_history(run, "The apply stopped on an unexpected error.")


def reconcile_lost_applies() -> int:
    """The reconciler's hook: runs whose TaskRun was marked lost (or failed) but still say running."""
    runs = ApplyRun.objects.filter(
        outcome=ApplyOutcome.RUNNING, task_run__status__in=[TaskStatus.LOST, TaskStatus.FAILED]
    ).select_related("revision__request__project")
    return sum(1 for run in runs if settle_from_history(run, "The worker died during the apply."))
