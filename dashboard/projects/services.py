"""The connection check of a project: plain functions the task calls (testable without Celery)."""

from django.utils import timezone

from dashboard.connections import open_target
from dashboard.models import Project, ProjectStatus
from dashboard.targets.check import check_connected
from dashboard.targets.connect import TargetError
from dashboard.taskruns import lifecycle


def run_connection_check(run) -> None:
    project: Project = run.project
    lifecycle.heartbeat(run, "Connecting")
    try:
        with open_target(project) as target:
            result = check_connected(target.connected, target.cfg)
    except TargetError as exc:
        store_project_state(project.pk, ProjectStatus.ERROR, exc.message, {})
        lifecycle.fail(run, exc.message)
        return
    summary = f"Postgres {result.server_version}, connected in {result.connect_ms:.0f} ms"
    store_project_state(project.pk, ProjectStatus.OK, summary, result.as_dict())
    lifecycle.succeed(run, result.as_dict())


def store_project_state(project_id: int, status: str, message: str, result: dict) -> None:
    Project.objects.filter(pk=project_id).update(
        status=status, status_message=message, check_result=result, checked_at=timezone.now()
    )
