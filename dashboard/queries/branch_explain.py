"""EXPLAIN ANALYZE of a stored statement on a temporary Neon branch instead of the production branch.

On a project with Neon API access, an engineer can run EXPLAIN ANALYZE on a copy: a worker
creates a branch of the statement's branch (the default branch, which the collector reads)
named `neon-ops-explain-<run>`, waits for its compute, runs the same EXPLAIN (ANALYZE, BUFFERS)
as on production (one plain SELECT, every reachable function immutable or stable, read-only,
rolled back, QUERIES_EXPLAIN_ANALYZE_TIMEOUT_MS) over the branch's direct URL, stores the plan
on the TaskRun's result and deletes the branch, however the run ends. The production compute
is never connected to. A run whose worker died leaves its branch to the reconciler
(`delete_leftover_branches`, run with every reconcile).

The run's result: {branch_name, branch_id, endpoint_id, branch_deleted, cleanup_error, plan}.
Its params: {queryid, values (the parameter values typed, bound, never logged), parent_branch_id,
parent_branch_name, cancel (set by the Cancel button)}.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from dashboard.common import audit
from dashboard.connections import database_and_role, open_url
from dashboard.introspection.explain import (
    ExplainRefused,
    analyze_refusal,
    check_param_count,
    explain,
    inspect_statement,
)
from dashboard.models import NeonBranch, Outcome, Project, QueryText, TaskRun, TaskStatus
from dashboard.neon.client import NeonAPIError, RetryPolicy
from dashboard.neon.state import compute_is_idle, has_api_access, resolve_branch
from dashboard.neon.sync import client_for
from dashboard.neon.temporary import TemporaryBranch, branch_named, delete_branch, temporary_branch
from dashboard.queries.services import explain_params
from dashboard.targets.connect import TargetError
from dashboard.taskruns import lifecycle

log = logging.getLogger(__name__)

KIND = "queries.explain_on_branch"
AUDIT_ACTION = "query.explain_on_branch"
BRANCH_PREFIX = "neon-ops-explain-"
# A finished run stays on the statement page this long.
RECENT_RUN = timedelta(hours=1)
# The reconciler retries deleting a branch left behind for this long, at most this many per pass.
LEFTOVER_WINDOW = timedelta(days=1)
LEFTOVER_BATCH = 20
LEFTOVER_BUDGET_SECONDS = 15

NO_API_MESSAGE = (
    "EXPLAIN ANALYZE on a temporary branch needs the project's Neon API access: a Neon project id and "
    "API key, set on the project's edit page."
)
UNKNOWN_BRANCH_MESSAGE = (
    "The statement's branch is unknown to the dashboard; sync the branches on the Branches page first."
)
BUSY_MESSAGE = (
    "An EXPLAIN ANALYZE of this statement on a temporary branch is already running; wait for it to end "
    "(or cancel it)."
)
CANCELLED_MESSAGE = "Cancelled; the temporary branch was deleted."


def idle_message(branch_name: str) -> str:
    return (
        f"Neon reports the compute of branch {branch_name} idle. A temporary branch would leave it idle "
        "but start a compute of its own, so it is only created when you ask for it: press “Start a "
        "temporary branch anyway”, or wake the compute first."
    )


class Refused(Exception):
    """The run may not start; `message` says why, `status` is the HTTP status of a full page."""

    def __init__(self, message: str, status: int = 400, *, idle: bool = False):
        super().__init__(message)
        self.message, self.status, self.idle = message, status, idle


@dataclass(frozen=True)
class Request:
    """A checked request: what the run's params hold."""

    queryid: int
    values: list[str]
    parent: NeonBranch

    def params(self) -> dict:
        return {
            "queryid": str(self.queryid),
            "values": self.values,
            "parent_branch_id": self.parent.branch_id,
            "parent_branch_name": self.parent.name,
        }


def available(project) -> bool:
    return has_api_access(project)


def check_request(project, query_text: QueryText, form, *, wake: bool) -> Request:
    """Everything that can be refused before a branch is created (raises Refused); connects to nothing."""
    if not available(project):
        raise Refused(NO_API_MESSAGE)
    try:
        info = inspect_statement(query_text.text, settings.QUERIES_PARSE_MAX_CHARS)
        if refusal := analyze_refusal(info):
            raise ExplainRefused(refusal)
        values = explain_params(form, info.param_count)
        check_param_count(info, values)
    except ExplainRefused as exc:
        raise Refused(exc.message) from None
    parent = resolve_branch(project, None)
    if parent is None:
        raise Refused(UNKNOWN_BRANCH_MESSAGE, 409)
    if not wake and compute_is_idle(project, parent):
        raise Refused(idle_message(parent.name), 409, idle=True)
    return Request(query_text.queryid, values, parent)


def runs_of(project, queryid):
    return TaskRun.objects.filter(project=project, kind=KIND, params__queryid=str(queryid))


def active_run(project, queryid) -> TaskRun | None:
    return runs_of(project, queryid).filter(status__in=[TaskStatus.QUEUED, TaskStatus.RUNNING]).first()


def latest_run(project, queryid) -> TaskRun | None:
    """The newest run of the statement, if it is still running or ended within RECENT_RUN."""
    run = runs_of(project, queryid).select_related("created_by").first()
    if run is None or (run.is_finished and run.finished_at < timezone.now() - RECENT_RUN):
        return None
    return run


def request_cancel(project, queryid, user) -> TaskRun | None:
    """Ask the statement's running run to stop (the worker deletes its branch); None when none runs."""
    run = active_run(project, queryid)
    if run is None:
        return None
    TaskRun.objects.filter(pk=run.pk).update(params={**run.params, "cancel": True})
    audit.record(user, f"{AUDIT_ACTION}.cancel", project=project, obj=run, queryid=str(queryid))
    return run


def branch_name(run: TaskRun) -> str:
    """The branch name only this run uses (so a lost run's branch is found by name)."""
    return f"{BRANCH_PREFIX}{run.pk.hex[:12]}"


# --- the worker's side ----------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


def run_on_branch(run: TaskRun) -> None:
    """The task body: branch, explain, delete; the outcome on the run and in the audit log."""
    project = run.project
    # Nothing to delete until the branch is asked for.
    result = {"branch_name": branch_name(run), "branch_id": "", "branch_deleted": True}
    try:
        result["plan"] = _explain_on_new_branch(run, project, result)
    except (_Cancelled, ExplainRefused, TargetError, NeonAPIError, SoftTimeLimitExceeded) as exc:
        _finish(run, project, result, _failure_message(exc))
        return
    except Exception:
        _store(run, result)  # the reconciler needs what this run learned about its branch
        raise
    _finish(run, project, result, "")


def _explain_on_new_branch(run: TaskRun, project, result: dict) -> str:
    params = run.params
    made: list[TemporaryBranch] = []

    def created(branch: TemporaryBranch) -> None:
        made.append(branch)
        result.update(branch_id=branch.branch_id, endpoint_id=branch.endpoint_id)
        _store(run, result)
        lifecycle.heartbeat(run, f"Waiting for temporary branch {branch.name} and its compute")

    _stop_if_cancelled(run)
    with client_for(project) as client:
        # From here on a branch may exist (even if Neon's answer is lost): the reconciler looks for it.
        result["branch_deleted"] = False
        _store(run, result)
        lifecycle.heartbeat(run, f"Creating temporary branch {result['branch_name']} from "
                                 f"{params['parent_branch_name']}")  # fmt: skip
        try:
            with temporary_branch(client, project.neon_project_id, parent_id=params["parent_branch_id"],
                                  name=result["branch_name"], on_created=created) as branch:  # fmt: skip
                return _explain_on(client, run, branch)
        finally:
            for branch in made:
                result.update(branch_deleted=branch.deleted, cleanup_error=branch.cleanup_error)


def _explain_on(client, run: TaskRun, branch: TemporaryBranch) -> str:
    """EXPLAIN ANALYZE over the new branch's direct URL, reached with the production URL's database and role."""
    project = run.project
    query_text = QueryText.objects.get(project=project, queryid=int(run.params["queryid"]))
    database, role = database_and_role(project)
    _stop_if_cancelled(run)
    url = client.connection_uri(project.neon_project_id, branch_id=branch.branch_id, database_name=database,
                                role_name=role, pooled=False)  # fmt: skip
    _stop_if_cancelled(run)
    lifecycle.heartbeat(run, f"Running EXPLAIN ANALYZE on temporary branch {branch.name}")
    with open_url(url) as target:
        return explain(target.conn, query_text.text, run.params.get("values") or [], analyze=True,
                       timeout_ms=settings.QUERIES_EXPLAIN_ANALYZE_TIMEOUT_MS, cfg=target.cfg)  # fmt: skip


def _stop_if_cancelled(run: TaskRun) -> None:
    if TaskRun.objects.filter(pk=run.pk, params__cancel=True).exists():
        raise _Cancelled(CANCELLED_MESSAGE)


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return lifecycle.TIME_LIMIT_MESSAGE
    return getattr(exc, "message", "") or str(exc)


def _store(run: TaskRun, result: dict) -> None:
    TaskRun.objects.filter(pk=run.pk).update(result=result)


def _finish(run: TaskRun, project, result: dict, error: str) -> None:
    if result.get("branch_id") and not result.get("branch_deleted"):
        log.warning("Temporary branch %s of run %s was not deleted: %s", result["branch_id"], run.pk,
                    result.get("cleanup_error", ""))  # fmt: skip
    if error:
        lifecycle.fail(run, error, result=result)
    else:
        lifecycle.succeed(run, result, progress=f"Plan from temporary branch {result['branch_name']}")
    audit.record(run.created_by, AUDIT_ACTION, project=project, obj=run,
                 outcome=Outcome.FAILURE if error else Outcome.SUCCESS, queryid=run.params.get("queryid", ""),
                 branch=result["branch_name"], branch_deleted=bool(result.get("branch_deleted")),
                 error=error[:500])  # fmt: skip


def audit_lost(run: TaskRun) -> None:
    """The worker never recorded this run's outcome: record it for the person who asked."""
    audit.record(run.created_by, AUDIT_ACTION, project=Project.objects.filter(pk=run.project_id).first(),
                 obj=run, outcome=Outcome.FAILURE, queryid=run.params.get("queryid", ""),
                 branch=(run.result or {}).get("branch_name", ""), error=run.error)  # fmt: skip


def delete_leftover_branches() -> int:
    """Reconcile hook: delete the temporary branches of runs that ended without deleting theirs
    (a worker that died, a deletion Neon refused). Returns how many were deleted.

    It runs inside the reconciler's short time limit: quick API calls without retries, Neon's
    acceptance of the deletion is enough, and it stops after LEFTOVER_BUDGET_SECONDS (the next
    reconcile, a minute later, goes on)."""
    since = timezone.now() - LEFTOVER_WINDOW
    runs = (
        TaskRun.objects.filter(kind=KIND, finished_at__gte=since, result__branch_deleted=False)
        .exclude(status__in=[TaskStatus.QUEUED, TaskStatus.RUNNING])
        .order_by("finished_at")[:LEFTOVER_BATCH]
    )
    deadline = time.monotonic() + LEFTOVER_BUDGET_SECONDS
    deleted = 0
    for run in runs:
        if time.monotonic() > deadline:
            break
        try:
            deleted += _delete_leftover(run)
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:  # the next reconcile tries again; one project must not stop the others
            log.warning("Could not delete the temporary branch of run %s (%s)", run.pk, type(exc).__name__)
    return deleted


def _delete_leftover(run: TaskRun) -> int:
    project = Project.objects.filter(pk=run.project_id).first()
    result = dict(run.result)
    quick = {"timeout": settings.NEON_STATE_CHECK_TIMEOUT, "retry": RetryPolicy(attempts=1)}
    with client_for(project, **quick) as client:
        pid = project.neon_project_id
        branch_id = result.get("branch_id") or branch_named(client, pid, result.get("branch_name", ""))
        error = delete_branch(client, pid, branch_id, wait=False) if branch_id else ""
    if error:
        TaskRun.objects.filter(pk=run.pk).update(result={**result, "cleanup_error": error})
        return 0
    TaskRun.objects.filter(pk=run.pk).update(result={**result, "branch_deleted": True, "cleanup_error": ""})
    if not branch_id:  # Neon never made it
        return 0
    audit.record(None, f"{AUDIT_ACTION}.cleanup", project=project, obj=run, branch=result.get("branch_name"))
    return 1
