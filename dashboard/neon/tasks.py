"""Celery tasks of the Neon area: thin, take ids, claim their TaskRun."""

import logging

from celery import shared_task
from django.utils import timezone

from dashboard.common import audit
from dashboard.models import NeonSyncState, Outcome, Project, TaskRun, TaskStatus
from dashboard.neon.actions import run_action
from dashboard.neon.client import NeonAPIError
from dashboard.neon.sync import claim_sync, forget_branch_uris, release_sync, sync_project
from dashboard.taskruns import lifecycle

log = logging.getLogger(__name__)

SYNC_KIND = "neon.sync"
ACTION_KIND = "neon.action"
# A periodic sync of one project: its lease lasts as long as the task may (the hard time limit),
# so a worker that died mid-sync frees the project by itself.
SYNC_LEASE_SECONDS = 300
SYNC_SOFT_LIMIT = 240
MANUAL_SYNC_TIME_LIMIT = 90


def neon_projects():
    return Project.objects.exclude(neon_project_id="").exclude(neon_api_key="")


def refresh_branch_credentials(project, user) -> TaskRun | None:
    """The project's credentials changed: drop the branch URIs stored with the old ones and queue a sync
    that fetches new ones (until then branches use the registered URL with the branch's host)."""
    forget_branch_uris(project)
    if not project.is_neon:
        return None
    return lifecycle.enqueue(
        sync_neon_project, SYNC_KIND, project=project, user=user, params={"action": "sync"}
    )


def run_sync(run) -> None:
    if not claim_sync(run.project_id, MANUAL_SYNC_TIME_LIMIT):
        lifecycle.succeed(run, {"skipped": "busy"}, progress="A sync of this project was already running")
        return
    lifecycle.heartbeat(run, "Reading branches and computes from Neon")
    try:
        summary = sync_project(run.project)
    except NeonAPIError as exc:
        lifecycle.fail(run, exc.message)
        audit.record(
            run.created_by, "neon.sync", project=run.project, outcome=Outcome.FAILURE, error=exc.message
        )
        return
    finally:
        release_sync(run.project_id)
    lifecycle.succeed(
        run, summary.as_dict(), progress=f"{summary.branches} branches, {summary.computes} computes"
    )


@shared_task(name="neon.sync_project", soft_time_limit=60, time_limit=MANUAL_SYNC_TIME_LIMIT)
def sync_neon_project(run_id: str) -> None:
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(run, run_sync, audit_action="neon.sync")


@shared_task(name="neon.sync_all_projects", soft_time_limit=30, time_limit=60)
def sync_all_neon_projects() -> int:
    """Beat: one neon.sync_project_periodic task per Neon project not being synced right now.

    Fanned out, so a slow project delays only itself; the lease keeps syncs of one project
    from overlapping when one takes longer than the interval.
    """
    busy = NeonSyncState.objects.filter(lease_until__gt=timezone.now()).values("project_id")
    ids = list(neon_projects().exclude(pk__in=busy).order_by("pk").values_list("pk", flat=True))
    for pk in ids:
        sync_neon_project_periodically.delay(pk)
    return len(ids)


@shared_task(
    name="neon.sync_project_periodic", soft_time_limit=SYNC_SOFT_LIMIT, time_limit=SYNC_LEASE_SECONDS
)
def sync_neon_project_periodically(project_id: int) -> dict:
    """Sync one project unless another sync of it holds the lease. Only the Neon API is called.

    A failure (API error, odd payload, a key that cannot be decrypted) is recorded on the
    project's sync state.
    """
    if not claim_sync(project_id, SYNC_LEASE_SECONDS):
        return {"skipped": "another sync of this project is running"}
    try:
        return _sync_recording_errors(project_id)
    finally:
        release_sync(project_id)


def _sync_recording_errors(project_id: int) -> dict:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return {"skipped": "no such project"}
    try:
        return sync_project(project).as_dict()
    except NeonAPIError as exc:  # sync_project has recorded it
        log.warning("Neon sync of %s failed: %s", project.slug, exc.message)
        return {"error": exc.message}
    except Exception as exc:
        message = f"The sync stopped on an unexpected error ({type(exc).__name__})."
        log.warning(
            "Neon sync of %s failed (%s)", project.slug, type(exc).__name__
        )  # no text: may hold secrets
        NeonSyncState.objects.update_or_create(
            project_id=project_id, defaults={"error": message, "error_at": timezone.now()}
        )
        return {"error": message}


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
