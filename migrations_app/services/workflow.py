"""The review workflow: draft, revise, approve, reject, cancel, and starting rehearsals and applies.

Views check the role; these functions check everything that depends on the request's
state and write the audit event of each step. A refused step raises Refused with a
message for the person and changes nothing.
"""

from django.db import transaction
from django.utils import timezone

# Dashboard code used here (import paths of today; the layout issue moves them).
from dashboard.common import audit
from dashboard.models import Outcome
from migrations_app import tasks
from migrations_app.engine.lint import LintResult
from migrations_app.models import (
    EDITABLE_STATES,
    ApplyOutcome,
    ApplyRun,
    Approval,
    Decision,
    MigrationRequest,
    ProjectMigrationPolicy,
    Rehearsal,
    RehearsalStatus,
    RequestState,
    Revision,
)
from migrations_app.services import lint as lint_service


class Refused(Exception):
    """The step is not possible now; `message` says why (safe to show)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class OwnRevision(Refused):
    """The author of a revision asked to approve it."""


def current_revision(req: MigrationRequest) -> Revision:
    return req.revisions.order_by("-number").first()


def latest_rehearsal(revision: Revision) -> Rehearsal | None:
    return revision.rehearsals.filter(checksum=revision.checksum).order_by("-created_at").first()


def valid_approvals(revision: Revision):
    return revision.approvals.filter(
        decision=Decision.APPROVE, checksum=revision.checksum, withdrawn_at__isnull=True
    )


def _touch(req: MigrationRequest, state: str) -> None:
    req.state = state
    req.updated_at = timezone.now()
    req.save(update_fields=["state", "updated_at", "title"])


def _new_revision(req, user, sql: str, outcome: lint_service.LintOutcome, acknowledged: bool) -> Revision:
    result: LintResult = outcome.result
    number = (req.revisions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    return Revision.objects.create(
        request=req,
        number=number,
        sql=sql,
        checksum=result.checksum,
        author=user,
        statements=lint_service.statements_json(result),
        findings=lint_service.findings_json(result),
        steps=lint_service.steps_json(result),
        blocked=result.blocked,
        destructive_acknowledged=acknowledged and bool(result.needs_acknowledgement),
        lint_error=outcome.error,
    )


def _after_lint(req: MigrationRequest, revision: Revision, user) -> None:
    """A blocked revision stays a draft; otherwise the rehearsal starts at once."""
    if revision.blocked:
        _touch(req, RequestState.LINTED)
        return
    start_rehearsal(req, revision, user)


@transaction.atomic
def draft(
    project, user, *, title: str, sql: str, outcome, acknowledged: bool, branch=None
) -> MigrationRequest:
    req = MigrationRequest.objects.create(
        project=project,
        title=title,
        created_by=user,
        branch_id=branch.branch_id if branch is not None and not branch.is_default else "",
        branch_name=branch.name if branch is not None and not branch.is_default else "",
    )
    revision = _new_revision(req, user, sql, outcome, acknowledged)
    audit.record(user, "migration.draft", project=project, obj=req, revision=1, checksum=revision.checksum,
                 blocked=revision.blocked)  # fmt: skip
    _after_lint(req, revision, user)
    return req


@transaction.atomic
def revise(req: MigrationRequest, user, *, title: str, sql: str, outcome, acknowledged: bool) -> Revision:
    req = MigrationRequest.objects.select_for_update().get(pk=req.pk)
    if req.state not in EDITABLE_STATES:
        raise Refused(f"A request that is {req.get_state_display().lower()} can no longer be edited.")
    previous = current_revision(req)
    if previous.sql == sql and req.title == title:
        raise Refused("Nothing changed.")
    req.title = title
    if previous.sql == sql:
        req.save(update_fields=["title"])
        audit.record(user, "migration.retitle", project=req.project, obj=req)
        return previous
    now = timezone.now()
    withdrawn = Approval.objects.filter(revision__request=req, withdrawn_at__isnull=True).update(
        withdrawn_at=now
    )
    invalidated = (
        Rehearsal.objects.filter(revision__request=req)
        .exclude(status__in=[RehearsalStatus.FAILED, RehearsalStatus.INVALIDATED])
        .update(status=RehearsalStatus.INVALIDATED, finished_at=now)
    )
    revision = _new_revision(req, user, sql, outcome, acknowledged)
    audit.record(user, "migration.revise", project=req.project, obj=req, revision=revision.number,
                 checksum=revision.checksum, approvals_withdrawn=withdrawn,
                 rehearsals_invalidated=invalidated)  # fmt: skip
    _after_lint(req, revision, user)
    return revision


def start_rehearsal(req: MigrationRequest, revision: Revision, user) -> Rehearsal:
    Rehearsal.objects.filter(revision=revision, status__in=[RehearsalStatus.QUEUED, RehearsalStatus.RUNNING]).update(
        status=RehearsalStatus.INVALIDATED, finished_at=timezone.now()
    )  # fmt: skip
    rehearsal = Rehearsal.objects.create(revision=revision, checksum=revision.checksum)
    rehearsal.task_run = tasks.enqueue_rehearsal(rehearsal, user)
    rehearsal.save(update_fields=["task_run"])
    _touch(req, RequestState.REHEARSING)
    audit.record(user, "migration.rehearse", project=req.project, obj=req, revision=revision.number)
    return rehearsal


@transaction.atomic
def rehearse_again(req: MigrationRequest, user) -> Rehearsal:
    req = MigrationRequest.objects.select_for_update().get(pk=req.pk)
    revision = current_revision(req)
    if req.state not in (RequestState.REHEARSING, RequestState.AWAITING_APPROVAL, RequestState.APPROVED):
        raise Refused(f"A request that is {req.get_state_display().lower()} is not rehearsed.")
    if revision.blocked:
        raise Refused("Fix the blocking lint findings first.")
    return start_rehearsal(req, revision, user)


def approval_refusal(req: MigrationRequest, revision: Revision, user) -> str:
    """Why `user` may not approve the current revision now ('' when they may)."""
    if revision.author_id == user.pk:
        return "You wrote this revision: another admin must approve it."
    policy = ProjectMigrationPolicy.for_project(req.project)
    if lint_service.open_blocking(revision.findings, policy):
        return "Blocking lint findings are open: the author must fix them first."
    if req.state not in (RequestState.AWAITING_APPROVAL, RequestState.APPROVED, RequestState.REHEARSING):
        return f"A request that is {req.get_state_display().lower()} cannot be approved."
    rehearsal = latest_rehearsal(revision)
    if rehearsal is not None and rehearsal.status == RehearsalStatus.FAILED:
        return "The rehearsal failed: fix the SQL (or rehearse again) before approving."
    if rehearsal is not None and rehearsal.status in (RehearsalStatus.QUEUED, RehearsalStatus.RUNNING):
        return "The rehearsal is still running: approve once its report is in."
    if valid_approvals(revision).filter(approver=user).exists():
        return "You have already approved this revision."
    return ""


def _refuse(user, action: str, req, message: str):
    audit.record(user, action, project=req.project, obj=req, outcome=Outcome.DENIED, error=message)
    raise Refused(message)


def approve(req: MigrationRequest, user, comment: str = "") -> Approval:
    with transaction.atomic():
        req = MigrationRequest.objects.select_for_update().get(pk=req.pk)
        revision = current_revision(req)
        reason = approval_refusal(req, revision, user)
        if not reason:
            approval = Approval.objects.create(
                revision=revision, checksum=revision.checksum, approver=user, decision=Decision.APPROVE,
                comment=comment,
            )  # fmt: skip
            required = ProjectMigrationPolicy.for_project(req.project).approvals_required
            if valid_approvals(revision).count() >= required:
                _touch(req, RequestState.APPROVED)
            audit.record(user, "migration.approve", project=req.project, obj=req, revision=revision.number,
                         checksum=revision.checksum)  # fmt: skip
            return approval
    if revision.author_id == user.pk:
        audit.record(
            user, "migration.approve", project=req.project, obj=req, outcome=Outcome.DENIED, error=reason
        )
        raise OwnRevision(reason)
    _refuse(user, "migration.approve", req, reason)


def reject(req: MigrationRequest, user, comment: str) -> Approval:
    with transaction.atomic():
        req = MigrationRequest.objects.select_for_update().get(pk=req.pk)
        revision = current_revision(req)
        reason = ""
        if req.state not in EDITABLE_STATES or req.state == RequestState.REJECTED:
            reason = f"A request that is {req.get_state_display().lower()} cannot be rejected."
        if not reason:
            approval = Approval.objects.create(
                revision=revision, checksum=revision.checksum, approver=user, decision=Decision.REJECT,
                comment=comment,
            )  # fmt: skip
            _touch(req, RequestState.REJECTED)
            audit.record(user, "migration.reject", project=req.project, obj=req, revision=revision.number)
            return approval
    _refuse(user, "migration.reject", req, reason)


def apply_refusal(req: MigrationRequest, revision: Revision) -> str:
    if req.state not in (RequestState.APPROVED, RequestState.FAILED):
        return f"A request that is {req.get_state_display().lower()} cannot be applied; it needs approval."
    required = ProjectMigrationPolicy.for_project(req.project).approvals_required
    count = valid_approvals(revision).count()
    if count < required:
        return f"This revision has {count} of the {required} approval(s) it needs."
    if ApplyRun.objects.filter(
        revision__request=req, outcome__in=[ApplyOutcome.WAITING, ApplyOutcome.RUNNING]
    ).exists():
        return "An apply of this request is already under way."  # fmt: skip
    return ""


def request_apply(req: MigrationRequest, user, apply_after=None) -> ApplyRun:
    with transaction.atomic():
        req = MigrationRequest.objects.select_for_update().get(pk=req.pk)
        revision = current_revision(req)
        reason = apply_refusal(req, revision)
        if not reason:
            run = ApplyRun.objects.create(
                revision=revision, checksum=revision.checksum, started_by=user, apply_after=apply_after
            )
            audit.record(user, "migration.apply", project=req.project, obj=req, revision=revision.number,
                         checksum=revision.checksum,
                         apply_after=apply_after.isoformat() if apply_after else "")  # fmt: skip
            tasks.start_or_wait(run)
            return run
    _refuse(user, "migration.apply", req, reason)


def cancel(req: MigrationRequest, user) -> str:
    """Cancel the apply under way, or else withdraw the request. Returns what was done."""
    with transaction.atomic():
        req = MigrationRequest.objects.select_for_update().get(pk=req.pk)
        run = ApplyRun.objects.filter(
            revision__request=req, outcome__in=[ApplyOutcome.WAITING, ApplyOutcome.RUNNING]
        ).first()
        if run is not None:
            done = tasks.cancel_apply(run, user)
            audit.record(user, "migration.cancel_apply", project=req.project, obj=req, apply_run=run.pk)
            return done
        if req.state in (RequestState.APPLIED, RequestState.PARTLY_APPLIED, RequestState.CANCELLED):
            reason = f"A request that is {req.get_state_display().lower()} cannot be cancelled."
        else:
            Rehearsal.objects.filter(
                revision__request=req, status__in=[RehearsalStatus.QUEUED, RehearsalStatus.RUNNING]
            ).update(status=RehearsalStatus.INVALIDATED, finished_at=timezone.now())
            _touch(req, RequestState.CANCELLED)
            audit.record(user, "migration.cancel", project=req.project, obj=req)
            return "The request was cancelled."
    _refuse(user, "migration.cancel", req, reason)
