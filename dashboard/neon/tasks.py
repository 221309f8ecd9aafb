"""Celery tasks of the Neon area: thin, take ids, claim their TaskRun."""

import logging

from celery import shared_task

from dashboard import audit, taskruns
from dashboard.models import Project
from dashboard.models.core import Outcome
from dashboard.neon.actions import run_action
from dashboard.neon.client import NeonAPIError
from dashboard.neon.sync import sync_project

log = logging.getLogger(__name__)

SYNC_KIND = "neon.sync"
ACTION_KIND = "neon.action"


def neon_projects():
    return Project.objects.exclude(neon_project_id="").exclude(neon_api_key="")


def run_sync(run) -> None:
    taskruns.heartbeat(run, "Reading branches and computes from Neon")
    try:
        summary = sync_project(run.project)
    except NeonAPIError as exc:
        taskruns.fail(run, exc.message)
        audit.record(
            run.created_by, "neon.sync", project=run.project, outcome=Outcome.FAILURE, error=exc.message
        )
        return
    taskruns.succeed(
        run, summary.as_dict(), progress=f"{summary.branches} branches, {summary.computes} computes"
    )


@shared_task(soft_time_limit=60, time_limit=90)
def sync_neon_project(run_id: str) -> None:
    run = taskruns.claim(run_id)
    if run is not None:
        taskruns.execute(run, run_sync, audit_action="neon.sync")


@shared_task(soft_time_limit=240, time_limit=300)
def sync_all_neon_projects() -> dict:
    """Periodic: only the Neon API is called, so idle computes stay idle."""
    outcome = {}
    for project in neon_projects():
        try:
            outcome[project.slug] = sync_project(project).as_dict()
        except NeonAPIError as exc:
            log.warning("Neon sync of %s failed: %s", project.slug, exc.message)
            outcome[project.slug] = {"error": exc.message}
    return outcome


@shared_task(soft_time_limit=180, time_limit=240)
def neon_action(run_id: str) -> None:
    run = taskruns.claim(run_id)
    if run is not None:
        taskruns.execute(run, run_action, audit_action=f"neon.{run.params.get('action', 'action')}")
