"""What the request page shows: the current revision's statements with their findings beside them,
the rehearsal report, approvals, apply runs, and which buttons this person gets."""

# Dashboard code used here (import paths of today; the layout issue moves them).
from dashboard.models import Role
from dashboard.neon.state import resolve_branch
from migrations_app.models import (
    EDITABLE_STATES,
    ApplyOutcome,
    ApplyRun,
    Approval,
    ProjectMigrationPolicy,
    RehearsalStatus,
    RequestState,
)
from migrations_app.services import workflow
from migrations_app.services.lint import open_blocking


def statements_with_findings(revision) -> tuple[list[dict], list[dict]]:
    """(statements, each with its findings and report row; findings about the whole script)."""
    by_statement: dict[int, list[dict]] = {}
    script = []
    for finding in revision.findings:
        if finding.get("statement") is None:
            script.append(finding)
        else:
            by_statement.setdefault(finding["statement"], []).append(finding)
    statements = [{**s, "findings": by_statement.get(s["index"], [])} for s in revision.statements]
    return statements, script


def _attach_report(statements: list[dict], rehearsal) -> None:
    if rehearsal is None:
        return
    rows = {row.get("statement"): row for row in (rehearsal.report or {}).get("statements", [])}
    for statement in statements:
        statement["rehearsed"] = rows.get(statement["index"])


def _active_run(req, runs, rehearsal):
    """The TaskRun the page polls: a running apply first, else a rehearsal under way."""
    for run in runs:
        if run.is_active and run.task_run is not None:
            return run.task_run
    if rehearsal is not None and rehearsal.status in (RehearsalStatus.QUEUED, RehearsalStatus.RUNNING):
        return rehearsal.task_run
    return None


def request_page_context(req, user, membership) -> dict:
    project = req.project
    revision = workflow.current_revision(req)
    policy = ProjectMigrationPolicy.for_project(project)
    statements, script_findings = statements_with_findings(revision)
    rehearsal = workflow.latest_rehearsal(revision)
    _attach_report(statements, rehearsal)
    runs = list(
        ApplyRun.objects.filter(revision__request=req)
        .select_related("task_run", "started_by", "revision")
        .order_by("-created_at")
    )
    approvals = list(
        Approval.objects.filter(revision__request=req)
        .select_related("approver", "revision")
        .order_by("-created_at")
    )
    valid = workflow.valid_approvals(revision).count()
    is_admin = membership.has_role(Role.ADMIN)
    is_engineer = membership.has_role(Role.ENGINEER)
    approve_refusal = workflow.approval_refusal(req, revision, user) if is_admin else ""
    apply_refusal = workflow.apply_refusal(req, revision) if is_engineer else ""
    active_run = next((r for r in runs if r.is_active), None)
    branch = resolve_branch(project, req.branch_id or None) if project.is_neon else None
    return {
        "project": project,
        "membership": membership,
        "req": req,
        "revision": revision,
        "revisions": req.revisions.select_related("author").order_by("-number"),
        "statements": statements,
        "script_findings": script_findings,
        "blocking": open_blocking(revision.findings, policy),
        "rehearsal": rehearsal,
        "approvals": approvals,
        "valid_approvals": valid,
        "approvals_required": policy.approvals_required,
        "policy": policy,
        "runs": runs,
        "active_apply": active_run,
        "active_task_run": _active_run(req, runs, rehearsal),
        "is_admin": is_admin,
        "can_edit": is_engineer and req.state in EDITABLE_STATES,
        "can_approve": is_admin and not approve_refusal,
        "approve_refusal": approve_refusal,
        "can_reject": is_admin and req.state in EDITABLE_STATES and req.state != RequestState.REJECTED,
        "can_rehearse": is_engineer
        and not revision.blocked
        and req.state in (RequestState.REHEARSING, RequestState.AWAITING_APPROVAL, RequestState.APPROVED),
        "can_apply": is_engineer and not apply_refusal,
        "apply_refusal": apply_refusal,
        "can_cancel": is_engineer
        and (
            active_run is not None
            or req.state not in (RequestState.APPLIED, RequestState.PARTLY_APPLIED, RequestState.CANCELLED)
        ),  # fmt: skip
        "waiting_for_compute": active_run is not None
        and active_run.outcome == ApplyOutcome.WAITING
        and active_run.task_run_id is None
        and bool(active_run.waiting_for),
        "branch": branch,
        "can_restore": is_admin and project.is_neon,
    }
