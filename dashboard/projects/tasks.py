"""Celery tasks of the projects area: the connection check, and the one call that starts it."""

from celery import shared_task

from dashboard.models import Project, ProjectStatus, TaskRun, TaskStatus
from dashboard.projects.services import run_connection_check, store_project_state
from dashboard.taskruns import lifecycle

CHECK_KIND = "connection_check"


def start_connection_check(project: Project, user, *, first: bool = False) -> TaskRun:
    """Queue a check; `first` (a registration) also queues the first snapshot and baseline on success."""
    Project.objects.filter(pk=project.pk).update(status=ProjectStatus.CHECKING, status_message="")
    params = {"first": True} if first else {}
    return lifecycle.enqueue(check_project_connection, CHECK_KIND, project=project, user=user, params=params)


@lifecycle.on_lost(CHECK_KIND)
def _reset_project_of_lost_check(run: TaskRun) -> None:
    """A check that ended without running leaves the project unreachable-with-reason, not "Checking",
    unless a newer check of the project is still on its way."""
    newer = TaskRun.objects.filter(
        project_id=run.project_id, kind=CHECK_KIND, status__in=[TaskStatus.QUEUED, TaskStatus.RUNNING]
    ).exclude(pk=run.pk)
    if not newer.exists():
        Project.objects.filter(pk=run.project_id, status=ProjectStatus.CHECKING).update(
            status=ProjectStatus.ERROR, status_message=run.error
        )


@shared_task(name="projects.check_connection", soft_time_limit=60, time_limit=90)
def check_project_connection(run_id: str) -> None:
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(
            run,
            run_connection_check,
            audit_action="project.check",
            # Never leave the project "checking": an unexpected error shows as unreachable.
            on_failure=lambda message: store_project_state(run.project_id, ProjectStatus.ERROR, message, {}),
        )
