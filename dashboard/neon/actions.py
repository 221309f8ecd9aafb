"""Branch and compute actions run by a worker: call Neon, wait on its operations, sync, audit.

Each action is a TaskRun whose params hold the action and Neon ids (never
secrets). Progress shows Neon's operations; the outcome is audited either way.
"""

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from dashboard.common import audit
from dashboard.connections import open_target
from dashboard.models import NeonBranch, NeonCompute, Outcome
from dashboard.neon.client import NeonAPIError
from dashboard.neon.sync import client_for, sync_project
from dashboard.targets.connect import TargetError
from dashboard.taskruns import lifecycle

LABELS = {
    "create": "Create branch",
    "delete": "Delete branch",
    "reset": "Reset branch from parent",
    "start": "Start compute",
    "suspend": "Suspend compute",
    "wake": "Wake compute",
}


class ActionRefused(Exception):
    """The action is not allowed on this branch; the message says why."""


def refusal_reason(branch: NeonBranch, action: str) -> str:
    """Why delete/reset is refused on the default or a protected branch ('' when allowed)."""
    if action not in ("delete", "reset"):
        return ""
    verb = "deleted" if action == "delete" else "reset"
    if branch.is_default:
        return f"{branch.name} is the default branch and cannot be {verb}."
    if branch.is_protected:
        return f"{branch.name} is a protected branch and cannot be {verb}."
    if action == "reset" and not branch.parent_id:
        return f"{branch.name} has no parent to reset from."
    return ""


def run_action(run) -> None:
    project = run.project
    params = run.params
    action = params.get("action")
    branch = NeonBranch.objects.filter(project=project, branch_id=params.get("branch_id", "")).first()
    label = params.get("name") or (branch.name if branch else params.get("branch_id", ""))
    try:
        result = _perform(run, action, branch)
    except (NeonAPIError, ActionRefused, TargetError, SoftTimeLimitExceeded) as exc:
        message = getattr(exc, "message", None) or str(exc) or "The action took too long and was stopped."
        lifecycle.fail(run, message)
        audit.record(
            run.created_by,
            f"neon.{action}",
            project=project,
            obj=branch,
            outcome=Outcome.FAILURE,
            branch=label,
            error=message,
        )
        return
    lifecycle.succeed(run, result, progress=f"{LABELS.get(action, action)}: done")
    audit.record(
        run.created_by,
        f"neon.{action}",
        project=project,
        obj=branch,
        branch=label,
        **{k: v for k, v in result.items() if k in ("branch_id", "connect_ms")},
    )


def _perform(run, action: str, branch: NeonBranch | None) -> dict:
    project = run.project
    pid = project.neon_project_id
    with client_for(project) as client:
        if action == "create":
            parent = run.params.get("parent_id") or None
            answer = client.create_branch(
                pid,
                parent_id=parent,
                name=run.params.get("name") or None,
                parent_timestamp=run.params.get("parent_timestamp") or None,
                init_source=run.params.get("init_source") or None,
            )
            result = {"branch_id": answer["branch"]["id"]}
        else:
            if branch is None:
                raise ActionRefused("That branch no longer exists in the dashboard; sync and try again.")
            reason = refusal_reason(branch, action)
            if reason:
                raise ActionRefused(reason)
            answer = _call_for_existing(client, pid, action, branch)
            result = {"branch_id": branch.branch_id}
        _wait(client, run, pid, answer.get("operations") or [])
        lifecycle.heartbeat(run, "Refreshing branches and computes")
        sync_project(project, client)
    if action in ("start", "wake"):
        # A person asked for the compute: connect once and record the cold start.
        result.update(_measure_connect(project, branch))
    return result


def _call_for_existing(client, pid: str, action: str, branch: NeonBranch) -> dict:
    if action == "delete":
        return client.delete_branch(pid, branch.branch_id)
    if action == "reset":
        return client.restore_branch(pid, branch.branch_id, source_branch_id=branch.parent_id)
    compute = branch.read_write_compute
    if compute is None:
        raise ActionRefused(f"{branch.name} has no compute.")
    if action in ("start", "wake"):
        return client.start_endpoint(pid, compute.endpoint_id)
    if action == "suspend":
        return client.suspend_endpoint(pid, compute.endpoint_id)
    raise ActionRefused(f"Unknown action {action!r}.")


def _wait(client, run, pid: str, operations: list[dict]) -> None:
    def progress(ops):
        done = sum(1 for op in ops if op.get("status") in ("finished", "skipped", "cancelled"))
        names = ", ".join(f"{op.get('action', '?')} {op.get('status', '?')}" for op in ops)
        lifecycle.heartbeat(run, f"Neon operations {done}/{len(ops)}: {names}")

    if operations:
        client.wait_for_operations(
            pid, operations, timeout=settings.NEON_OPERATION_TIMEOUT, on_progress=progress
        )


def _measure_connect(project, branch: NeonBranch) -> dict:
    """Connect once to the woken compute (retrying cold-start errors) and record how long it took."""
    with open_target(project, branch) as target, target.read_only() as cur:
        cur.execute("SELECT /* neon-ops-dashboard wake */ 1")
    connected = target.connected
    connect_ms = round(connected.connect_seconds * 1000, 1)
    NeonCompute.objects.filter(
        branch__project=project, branch__branch_id=branch.branch_id, type="read_write"
    ).update(
        last_connect_ms=connect_ms, last_connect_attempts=connected.attempts, last_connected_at=timezone.now()
    )
    return {"connect_ms": connect_ms, "connect_attempts": connected.attempts}
