"""The connection check of a project: plain functions the task calls (testable without Celery)."""

import logging

from django.utils import timezone

from dashboard.connections import open_target
from dashboard.models import Project, ProjectStatus, SnapshotSource
from dashboard.neon.client import NeonAPIError
from dashboard.neon.state import compute_is_idle
from dashboard.neon.sync import sync_project
from dashboard.queries.tasks import collect_statements
from dashboard.schema.tasks import request_snapshot
from dashboard.targets.check import check_connected
from dashboard.targets.connect import TargetError
from dashboard.taskruns import lifecycle

log = logging.getLogger(__name__)

FIRST_SNAPSHOT = "first schema snapshot"
STATEMENT_BASELINE = "statement baseline"


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
    outcome = result.as_dict()
    if run.params.get("first"):
        outcome["queued"] = queue_first_data(project, run.created_by)
    lifecycle.succeed(run, outcome)


def queue_first_data(project: Project, user) -> list[str]:
    """A new project fills itself: queue its first schema snapshot and statement baseline.

    Both go through the usual tasks, and never to an idle Neon compute: a Neon project is
    synced first (the API only) so its compute state is known. Returns what was queued.
    """
    if project.is_neon:
        try:
            sync_project(project)
        except NeonAPIError as exc:  # recorded on the sync state; the compute then counts as idle
            log.warning("First Neon sync of %s failed: %s", project.slug, exc.message)
    if compute_is_idle(project):
        return []
    # The periodic source: the capture checks again that the compute is awake before it connects.
    request_snapshot(project, user=user, source=SnapshotSource.PERIODIC)
    collect_statements.delay(project.pk)  # due at once: a project never collected has no state yet
    return [FIRST_SNAPSHOT, STATEMENT_BASELINE]


def store_project_state(project_id: int, status: str, message: str, result: dict) -> None:
    Project.objects.filter(pk=project_id).update(
        status=status, status_message=message, check_result=result, checked_at=timezone.now()
    )
