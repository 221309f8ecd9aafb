"""Celery tasks of the Neon area: thin, take ids, claim their TaskRun."""

import logging

from celery import shared_task
from django.utils import timezone

from dashboard.common import audit
from dashboard.models import NeonSyncState, Outcome, Project, TaskRun, TaskStatus
from dashboard.neon.actions import run_action
from dashboard.neon.client import NeonAPIError
from dashboard.neon.sync import sync_project
from dashboard.taskruns import lifecycle

log = logging.getLogger(__name__)

SYNC_KIND = "neon.sync"
ACTION_KIND = "neon.action"


def neon_projects():
    return Project.objects.exclude(neon_project_id="").exclude(neon_api_key="")


def run_sync(run) -> None:
    lifecycle.heartbeat(run, "Reading branches and computes from Neon")
    try:
        summary = sync_project(run.project)
    except NeonAPIError as exc:
        lifecycle.fail(run, exc.message)
        audit.record(
            run.created_by, "neon.sync", project=run.project, outcome=Outcome.FAILURE, error=exc.message
        )
        return
    lifecycle.succeed(
        run, summary.as_dict(), progress=f"{summary.branches} branches, {summary.computes} computes"
    )


@shared_task(name="neon.sync_project", soft_time_limit=60, time_limit=90)
def sync_neon_project(run_id: str) -> None:
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(run, run_sync, audit_action="neon.sync")


@shared_task(name="neon.sync_all_projects", soft_time_limit=240, time_limit=300)
def sync_all_neon_projects() -> dict:
    """Periodic: only the Neon API is called, so idle computes stay idle.

    One project's failure (API error, odd payload, a key that cannot be decrypted) is
    recorded on its sync state and the loop goes on with the others.
    """
    outcome = {}
    for pk, slug in neon_projects().values_list("pk", "slug"):
        try:
            # Loaded here, inside the try: decrypting its credentials may fail.
            outcome[slug] = sync_project(Project.objects.get(pk=pk)).as_dict()
        except NeonAPIError as exc:  # sync_project has recorded it
            log.warning("Neon sync of %s failed: %s", slug, exc.message)
            outcome[slug] = {"error": exc.message}
        except Exception as exc:
            message = f"The sync stopped on an unexpected error ({type(exc).__name__})."
            log.warning("Neon sync of %s failed (%s)", slug, type(exc).__name__)  # no text: may hold secrets
            NeonSyncState.objects.update_or_create(
                project_id=pk, defaults={"error": message, "error_at": timezone.now()}
            )
            outcome[slug] = {"error": message}
    return outcome


def active_action(project, params: dict) -> TaskRun | None:
    """A queued or running action of the project with exactly these parameters (a repeated request)."""
    return TaskRun.objects.filter(
        project=project, kind=ACTION_KIND, params=params, status__in=[TaskStatus.QUEUED, TaskStatus.RUNNING]
    ).first()


@lifecycle.on_lost(ACTION_KIND)
def _audit_lost_action(run: TaskRun) -> None:
    """The worker never audited this run's outcome: record it, for the person who asked."""
    params = run.params
    audit.record(
        run.created_by,
        f"neon.{params.get('action', 'action')}",
        project=Project.objects.filter(pk=run.project_id).first(),
        outcome=Outcome.FAILURE,
        branch=params.get("name") or params.get("branch_name") or params.get("branch_id", ""),
        error=run.error,
    )


@shared_task(name="neon.action", soft_time_limit=180, time_limit=240)
def neon_action(run_id: str) -> None:
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(run, run_action, audit_action=f"neon.{run.params.get('action', 'action')}")
