"""Celery tasks of the queries area: thin, take project ids, claim with a conditional UPDATE."""

from celery import shared_task
from django.utils import timezone

from dashboard.models import Project


@shared_task(soft_time_limit=30, time_limit=60)
def collect_due_statements() -> int:
    """Beat entry: enqueue one collection per project whose snapshot is due."""
    from dashboard.queries.collector import due_project_ids

    ids = due_project_ids(timezone.now())
    for project_id in ids:
        collect_statements.delay(project_id)
    return len(ids)


@shared_task(soft_time_limit=90, time_limit=120)
def collect_statements(project_id: int) -> str:
    from dashboard.queries.collector import claim_due, collect_project

    project = Project.objects.filter(pk=project_id).first()
    if project is None or not claim_due(project_id, timezone.now()):
        return "not due"
    return collect_project(project).status


@shared_task(soft_time_limit=30, time_limit=60)
def refresh_due_health() -> int:
    from dashboard.queries.healthstore import due_health_project_ids

    ids = due_health_project_ids(timezone.now())
    for project_id in ids:
        refresh_health.delay(project_id)
    return len(ids)


@shared_task(soft_time_limit=60, time_limit=90)
def refresh_health(project_id: int) -> str:
    from dashboard.queries.healthstore import take_health_snapshot

    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return "gone"
    snapshot = take_health_snapshot(project)
    return snapshot.error or snapshot.skipped or "ok"


@shared_task(soft_time_limit=300, time_limit=360)
def cleanup_statement_history() -> dict:
    from dashboard.queries.collector import cleanup

    return cleanup()
