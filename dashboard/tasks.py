"""Thin Celery tasks: they take TaskRun or Project ids and call plain functions."""

from celery import shared_task
from django.utils import timezone

from dashboard import taskruns
from dashboard.connections import target_settings
from dashboard.models import Project
from dashboard.models.core import ProjectStatus
from dashboard.targets.check import check_connection
from dashboard.targets.connect import TargetError
from dashboard.targets.urls import InvalidURL


def run_connection_check(run) -> None:
    project: Project = run.project
    taskruns.heartbeat(run, "Connecting")
    try:
        result = check_connection(project.pooled_url, target_settings(project.pooled_url))
    except (TargetError, InvalidURL) as exc:
        message = getattr(exc, "message", str(exc))
        _store_project_state(project.pk, ProjectStatus.ERROR, message, {})
        taskruns.fail(run, message)
        return
    summary = f"Postgres {result.server_version}, connected in {result.connect_ms:.0f} ms"
    _store_project_state(project.pk, ProjectStatus.OK, summary, result.as_dict())
    taskruns.succeed(run, result.as_dict())


def _store_project_state(project_id: int, status: str, message: str, result: dict) -> None:
    Project.objects.filter(pk=project_id).update(
        status=status, status_message=message, check_result=result, checked_at=timezone.now()
    )


@shared_task(soft_time_limit=60, time_limit=90)
def check_project_connection(run_id: str) -> None:
    run = taskruns.claim(run_id)
    if run is not None:
        taskruns.execute(
            run,
            run_connection_check,
            audit_action="project.check",
            # Never leave the project "checking": an unexpected error shows as unreachable.
            on_failure=lambda message: _store_project_state(run.project_id, ProjectStatus.ERROR, message, {}),
        )


@shared_task(soft_time_limit=30, time_limit=60)
def reconcile_stale_task_runs() -> int:
    return taskruns.reconcile_stale()


from dashboard import tasks_schema  # noqa: E402,F401  (schema area tasks)
from dashboard.neon import tasks as neon_tasks  # noqa: E402,F401  (registers the Neon area's tasks)
from dashboard.queries import tasks as _queries_tasks  # noqa: E402,F401  (registers the queries area's tasks)
