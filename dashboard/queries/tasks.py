"""Celery tasks of the queries area: thin, take ids, claim with a conditional UPDATE."""

from celery import shared_task
from django.utils import timezone

from dashboard.common import audit
from dashboard.health.services import cleanup_snapshots, take_health_snapshot
from dashboard.models import CollectorState, CollectorStatus, HealthSnapshot, Outcome, Project, TaskRun
from dashboard.queries.collector import claim_due, claim_now, cleanup, collect_project, due_project_ids
from dashboard.taskruns import lifecycle

COLLECT_NOW_KIND = "queries.collect_now"
# Outcomes of a snapshot that leave the person asking for one without new data.
NO_DATA = (CollectorStatus.ERROR, CollectorStatus.UNAVAILABLE, CollectorStatus.IDLE)


@shared_task(name="queries.collect_due", soft_time_limit=30, time_limit=60)
def collect_due_statements() -> int:
    """Beat entry: enqueue one collection per project whose snapshot is due."""
    ids = due_project_ids(timezone.now())
    for project_id in ids:
        collect_statements.delay(project_id)
    return len(ids)


def collect_and_check(project: Project) -> CollectorState:
    """Snapshot statements, then health checks on the same cadence (so health checks back off too)."""
    state = collect_project(project)
    if state.status == CollectorStatus.ERROR:  # unreachable: do not wait for the connect timeout twice
        HealthSnapshot.objects.create(project=project, error=state.message)
    else:
        take_health_snapshot(project)  # records "skipped" itself when the compute is idle
    return state


@shared_task(name="queries.collect_statements", soft_time_limit=90, time_limit=120)
def collect_statements(project_id: int) -> str:
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not claim_due(project_id, timezone.now()):
        return "not due"
    return collect_and_check(project).status


@shared_task(name="queries.collect_now", soft_time_limit=90, time_limit=120)
def collect_now(run_id: str) -> None:
    """One snapshot a person asked for ("Collect now"), whether or not one is due."""
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(run, _collect_now, audit_action=COLLECT_NOW_KIND)


def _collect_now(run: TaskRun) -> None:
    project = run.project
    lifecycle.heartbeat(run, "Reading pg_stat_statements")
    if not claim_now(project.pk, timezone.now()):
        lifecycle.fail(run, "A scheduled snapshot is being taken right now; its data appears when it ends.")
        return
    state = collect_and_check(project)
    if state.status in NO_DATA:
        lifecycle.fail(run, state.message, result={"status": state.status})
    else:
        lifecycle.succeed(run, {"status": state.status}, progress=state.get_status_display())
    outcome = Outcome.FAILURE if state.status in NO_DATA else Outcome.SUCCESS
    audit.record(run.created_by, "queries.collect_now.finished", project=project, obj=run, outcome=outcome,
                 status=state.status)  # fmt: skip


@shared_task(name="queries.cleanup_history", soft_time_limit=300, time_limit=360)
def cleanup_statement_history() -> dict:
    return {**cleanup(), "health_snapshots": cleanup_snapshots()}
