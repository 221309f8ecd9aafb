"""Restoring a Neon branch to the LSN recorded just before a migration (admins, from the request page).

Neon's branch restore with the branch as its own source; the current state is kept under a new
branch name, so nothing is lost if the restore was a mistake.
"""

from django.conf import settings
from django.utils import timezone

# Dashboard code used here (import paths of today; the layout issue moves them).
from dashboard.common import audit
from dashboard.models import Outcome
from dashboard.neon.client import NeonAPIError
from dashboard.neon.state import resolve_branch
from dashboard.neon.sync import client_for, sync_project
from dashboard.taskruns import lifecycle as taskruns
from migrations_app.models import ApplyRun


def preserve_name(run: ApplyRun) -> str:
    return f"before-restore-{run.revision.request_id}-{timezone.now():%Y%m%d%H%M%S}"


def run_restore(task_run) -> None:
    run = ApplyRun.objects.select_related("revision__request__project").get(pk=task_run.params["apply_run"])
    req = run.revision.request
    project = req.project
    branch = resolve_branch(project, req.branch_id or None)
    try:
        with client_for(project) as client:
            taskruns.heartbeat(task_run, f"Restoring {branch.name} to LSN {run.lsn_before}")
            answer = client.restore_branch(
                project.neon_project_id,
                branch.branch_id,
                source_branch_id=branch.branch_id,
                source_lsn=run.lsn_before,
                preserve_under_name=task_run.params["preserve_under_name"],
            )
            ops = answer.get("operations") or []
            client.wait_for_operations(project.neon_project_id, ops, timeout=settings.NEON_OPERATION_TIMEOUT)
            sync_project(project, client)
    except NeonAPIError as exc:
        taskruns.fail(task_run, exc.message)
        audit.record(task_run.created_by, "migration.restore", project=project, obj=req,
                     outcome=Outcome.FAILURE, error=exc.message)  # fmt: skip
        return
    preserved = task_run.params["preserve_under_name"]
    taskruns.succeed(
        task_run, {"preserved_as": preserved}, progress=f"Restored; the state after it is kept as {preserved}"
    )
    audit.record(task_run.created_by, "migration.restore", project=project, obj=req, lsn=run.lsn_before,
                 preserved_as=preserved)  # fmt: skip
