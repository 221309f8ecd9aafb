"""Celery tasks of the schema area: capture a snapshot (on demand, after changes, periodically)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from dashboard.common import audit
from dashboard.models import Outcome, Project, SchemaSnapshot, SnapshotSource, TaskRun, TaskStatus
from dashboard.neon.state import branches_for, compute_is_idle
from dashboard.schema.retention import delete_expired_snapshots
from dashboard.schema.snapshots import branch_key, capture_snapshot
from dashboard.targets.connect import TargetError
from dashboard.taskruns import lifecycle

SNAPSHOT_KIND = "schema_snapshot"


def _captures(project: Project, branch_id: str):
    runs = TaskRun.objects.filter(project=project, kind=SNAPSHOT_KIND)
    if branch_id:
        return runs.filter(params__branch=branch_id)
    return runs.filter(Q(params__branch="") | ~Q(params__has_key="branch"))


def latest_capture(project: Project, branch_id: str = "") -> TaskRun | None:
    return _captures(project, branch_id).order_by("-created_at").first()


def active_capture(project: Project, branch_id: str = "") -> TaskRun | None:
    return (
        _captures(project, branch_id)
        .filter(status__in=[TaskStatus.QUEUED, TaskStatus.RUNNING])
        .order_by("-created_at")
        .first()
    )


def request_snapshot(
    project: Project, *, user=None, source: str = SnapshotSource.MANUAL, branch_id: str = ""
) -> TaskRun:
    """Queue a capture unless one is already queued or running; other areas call this after applying a change.

    `branch_id` is a Neon branch id ("" for the project's own connection, its default branch).
    """
    return active_capture(project, branch_id) or lifecycle.enqueue(
        capture_schema_snapshot,
        SNAPSHOT_KIND,
        project=project,
        user=user,
        params={"source": source, "branch": branch_id},
    )


def run_capture(run: TaskRun) -> None:
    project = run.project
    source = run.params.get("source", SnapshotSource.MANUAL)
    if source == SnapshotSource.PERIODIC and compute_is_idle(project):
        # The compute may have suspended since the beat queued this run: never wake it for a periodic read.
        lifecycle.succeed(run, {"skipped": "compute idle"}, progress="Skipped: the compute is idle")
        return
    branch = None
    if run.params.get("branch"):
        branch = _find_branch(project, run.params["branch"])
        if branch is None:
            lifecycle.fail(run, "That branch is no longer known for this project.")
            return
    lifecycle.heartbeat(run, "Reading the catalog")
    try:
        snapshot = capture_snapshot(project, branch=branch, source=source, user=run.created_by)
    except TargetError as exc:
        message = exc.message
        if exc.code == "busy":
            message = "Catalog busy: another session holds a lock on a table; try again."
        lifecycle.fail(run, message)
        audit.record(run.created_by, "schema.snapshot", project=project, outcome=Outcome.FAILURE, error=message,
                     source=source)  # fmt: skip
        return
    result = {
        "snapshot_id": snapshot.pk,
        "version": snapshot.version,
        "relations": snapshot.counts.get("relations"),
    }
    lifecycle.succeed(run, result, progress=f"Snapshot v{snapshot.version} taken")
    audit.record(run.created_by, "schema.snapshot", project=project, obj=snapshot, source=source,
                 version=snapshot.version)  # fmt: skip


@shared_task(name="schema.capture_snapshot", soft_time_limit=120, time_limit=180)
def capture_schema_snapshot(run_id: str) -> None:
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(run, run_capture, audit_action="schema.snapshot")


def projects_due_for_snapshot(now=None) -> list[Project]:
    """Projects whose latest default-branch snapshot is older than the interval (or missing)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SCHEMA_SNAPSHOT_INTERVAL_SECONDS)
    fresh = SchemaSnapshot.objects.filter(branch_id="", taken_at__gte=cutoff).values("project_id")
    return list(Project.objects.exclude(Q(pk__in=fresh)).order_by("pk"))


def schedule_periodic_snapshots() -> int:
    """Queue captures for due projects whose compute is active; never wake an idle Neon compute."""
    queued = 0
    for project in projects_due_for_snapshot():
        if compute_is_idle(project) or active_capture(project) is not None:
            continue
        request_snapshot(project, source=SnapshotSource.PERIODIC)
        queued += 1
    return queued


@shared_task(name="schema.periodic_snapshots", soft_time_limit=60, time_limit=90)
def periodic_schema_snapshots() -> int:
    return schedule_periodic_snapshots()


@shared_task(name="schema.cleanup_snapshots", soft_time_limit=300, time_limit=360)
def cleanup_schema_snapshots() -> dict:
    return delete_expired_snapshots()


BRANCH_COMPARE_KIND = "schema_branch_compare"


def _find_branch(project: Project, key: str):
    return next((b for b in branches_for(project) if branch_key(b)[0] == key), None)


def run_branch_compare(run: TaskRun) -> None:
    """Snapshot both branches (same introspection as any snapshot), then point the diff page at them."""
    project = run.project
    versions = []
    for role in ("base", "head"):
        branch = _find_branch(project, run.params.get(role, ""))
        if branch is None:
            lifecycle.fail(run, f"The {role} branch is no longer known for this project.")
            return
        lifecycle.heartbeat(run, f"Reading the schema of branch {run.params[role]}")
        try:
            snapshot = capture_snapshot(
                project, branch=branch, source=SnapshotSource.BRANCH, user=run.created_by
            )
        except TargetError as exc:
            lifecycle.fail(run, exc.message)
            return
        versions.append(snapshot.version)
    lifecycle.succeed(run, {"from": versions[0], "to": versions[1]}, progress="Both branches read")


@shared_task(name="schema.compare_branches", soft_time_limit=240, time_limit=300)
def compare_branch_schemas(run_id: str) -> None:
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(run, run_branch_compare, audit_action="schema.compare_branches")
