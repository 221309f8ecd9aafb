"""Celery tasks of the queries area: thin, take project ids, claim with a conditional UPDATE."""

from celery import shared_task
from django.utils import timezone

from dashboard.health.services import cleanup_snapshots, take_health_snapshot
from dashboard.models import CollectorStatus, HealthSnapshot, Project
from dashboard.queries.collector import claim_due, cleanup, collect_project, due_project_ids


@shared_task(name="queries.collect_due", soft_time_limit=30, time_limit=60)
def collect_due_statements() -> int:
    """Beat entry: enqueue one collection per project whose snapshot is due."""
    ids = due_project_ids(timezone.now())
    for project_id in ids:
        collect_statements.delay(project_id)
    return len(ids)


@shared_task(name="queries.collect_statements", soft_time_limit=90, time_limit=120)
def collect_statements(project_id: int) -> str:
    """Snapshot statements, then health checks on the same cadence (so health checks back off too)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not claim_due(project_id, timezone.now()):
        return "not due"
    state = collect_project(project)
    if state.status == CollectorStatus.ERROR:  # unreachable: do not wait for the connect timeout twice
        HealthSnapshot.objects.create(project=project, error=state.message)
    else:
        take_health_snapshot(project)  # records "skipped" itself when the compute is idle
    return state.status


@shared_task(name="queries.cleanup_history", soft_time_limit=300, time_limit=360)
def cleanup_statement_history() -> dict:
    return {**cleanup(), "health_snapshots": cleanup_snapshots()}
