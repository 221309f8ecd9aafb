"""Pages of reviewed migrations: list and history, draft, one request, and its review and apply steps.

Every view loads the project through the access helper (404 for strangers, 403 for a
role too low); the workflow service decides what the request's state allows.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

# Dashboard code used here (import paths of today; the layout issue moves them).
from dashboard.common.access import get_project_for_user
from dashboard.common.htmx import task_partial
from dashboard.models import Role
from dashboard.neon.state import branches_for, resolve_branch
from migrations_app import tasks
from migrations_app.forms import ApplyForm, CommentForm, PolicyForm, RejectForm, SqlForm
from migrations_app.history.views import timeline_context
from migrations_app.models import (
    FINISHED_STATES,
    ApplyOutcome,
    ApplyRun,
    MigrationRequest,
    ProjectMigrationPolicy,
)
from migrations_app.services import policy as policy_service
from migrations_app.services import workflow
from migrations_app.services.presenting import request_page_context

PER_PAGE = 25


def _request_or_404(project, migration_id: int) -> MigrationRequest:
    req = (
        MigrationRequest.objects.filter(project=project, pk=migration_id).select_related("created_by").first()
    )
    if req is None:
        raise Http404("No such migration request")
    return req


def _to_page(req: MigrationRequest):
    return redirect("migration_detail", slug=req.project.slug, migration_id=req.pk)


@login_required
@require_GET
def migration_list(request, slug):
    project, membership = get_project_for_user(request, slug)
    requests = MigrationRequest.objects.filter(project=project).select_related("created_by")
    pending = requests.exclude(state__in=FINISHED_STATES).order_by("-updated_at")
    applied_runs = (
        ApplyRun.objects.filter(revision__request__project=project, finished_at__isnull=False)
        .exclude(outcome__in=[ApplyOutcome.WAITING, ApplyOutcome.RUNNING])
        .select_related("revision__request__created_by", "started_by", "revision__author")
        .prefetch_related(Prefetch("revision__approvals"))
        .order_by("-finished_at")
    )
    history = Paginator(applied_runs, PER_PAGE).get_page(request.GET.get("page"))
    for run in history:
        run.approvers = [a.approver for a in run.revision.approvals.all() if a.decision == "approve"]
    context = {
        "project": project,
        "membership": membership,
        "pending": pending[:100],
        "page": history,
        "can_draft": membership.has_role(Role.ENGINEER),
        "can_set_policy": membership.has_role(Role.ADMIN),
    }
    context.update(timeline_context(request, project, membership))
    return render(request, "migrations_app/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def migration_new(request, slug):
    project, _ = get_project_for_user(request, slug, Role.ENGINEER)
    branches = branches_for(project)
    if request.method == "POST":
        form = SqlForm(request.POST, project=project, branches=branches)
        if form.is_valid():
            branch = resolve_branch(project, form.cleaned_data.get("branch") or None)
            req = workflow.draft(
                project,
                request.user,
                title=form.cleaned_data["title"],
                sql=form.cleaned_data["sql"],
                outcome=form.outcome,
                acknowledged=form.cleaned_data["acknowledge_destructive"],
                branch=branch,
            )
            messages.success(request, f"Migration request #{req.pk} drafted.")
            return _to_page(req)
        status = 400
    else:
        initial = {"title": request.GET.get("title", "")[:200], "sql": request.GET.get("sql", "")}
        form = SqlForm(initial=initial, project=project, branches=branches)
        status = 200
    context = {"project": project, "form": form, "editing": False}
    return render(request, "migrations_app/form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def migration_policy(request, slug):
    """Admins set the project's approvals, timeouts, rehearsal size limit and squawk rule levels."""
    project, _ = get_project_for_user(request, slug, Role.ADMIN)
    current = policy_service.current_values(ProjectMigrationPolicy.for_project(project))
    form = PolicyForm(request.POST or None, values=current)
    if request.method == "POST":
        if form.is_valid():
            changed = policy_service.save_policy(project, request.user, form.values())
            messages.success(
                request, f"Policy saved ({len(changed)} setting(s) changed); it applies to the next revision."
            )
            return redirect("migration_policy", slug=project.slug)
        status = 400
    else:
        status = 200
    context = {"project": project, "form": form, "own_rules": policy_service.OWN_RULES}
    return render(request, "migrations_app/policy.html", context, status=status)


@login_required
@require_GET
def migration_detail(request, slug, migration_id):
    project, membership = get_project_for_user(request, slug)
    req = _request_or_404(project, migration_id)
    context = request_page_context(req, request.user, membership)
    return render(request, "migrations_app/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def migration_edit(request, slug, migration_id):
    project, _ = get_project_for_user(request, slug, Role.ENGINEER)
    req = _request_or_404(project, migration_id)
    current = workflow.current_revision(req)
    if request.method == "POST":
        form = SqlForm(request.POST, project=project)
        if form.is_valid():
            try:
                revision = workflow.revise(
                    req,
                    request.user,
                    title=form.cleaned_data["title"],
                    sql=form.cleaned_data["sql"],
                    outcome=form.outcome,
                    acknowledged=form.cleaned_data["acknowledge_destructive"],
                )
            except workflow.Refused as exc:
                messages.error(request, exc.message)
                return _to_page(req)
            messages.success(request, f"Revision {revision.number} saved.")
            return _to_page(req)
        status = 400
    else:
        form = SqlForm(initial={"title": req.title, "sql": current.sql}, project=project)
        status = 200
    context = {"project": project, "form": form, "editing": True, "req": req}
    return render(request, "migrations_app/form.html", context, status=status)


def _step(request, slug, migration_id, minimum, action):
    """Run one workflow step from a POST and go back to the request page with its message."""
    project, _ = get_project_for_user(request, slug, minimum)
    req = _request_or_404(project, migration_id)
    try:
        message = action(req)
    except workflow.OwnRevision as exc:
        raise PermissionDenied(exc.message) from None
    except workflow.Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, message)
    return _to_page(req)


@login_required
@require_POST
def migration_approve(request, slug, migration_id):
    form = CommentForm(request.POST)

    def approve(req):
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        approval = workflow.approve(req, request.user, comment)
        return f"You approved revision {approval.revision.number}."

    return _step(request, slug, migration_id, Role.ADMIN, approve)


@login_required
@require_POST
def migration_reject(request, slug, migration_id):
    form = RejectForm(request.POST)

    def reject(req):
        if not form.is_valid():
            raise workflow.Refused("Say why you reject it: a comment is required.")
        workflow.reject(req, request.user, form.cleaned_data["comment"])
        return "You rejected the request."

    return _step(request, slug, migration_id, Role.ADMIN, reject)


@login_required
@require_POST
def migration_rehearse(request, slug, migration_id):
    def rehearse(req):
        workflow.rehearse_again(req, request.user)
        return "Rehearsal started."

    return _step(request, slug, migration_id, Role.ENGINEER, rehearse)


@login_required
@require_POST
def migration_apply(request, slug, migration_id):
    form = ApplyForm(request.POST)

    def apply(req):
        if not form.is_valid():
            raise workflow.Refused("The time is not valid: use YYYY-MM-DD HH:MM (UTC).")
        run = workflow.request_apply(req, request.user, form.cleaned_data.get("apply_after"))
        if run.waiting_for:
            return f"The apply waits: {run.waiting_for}."
        return "The apply has started; progress is shown below."

    return _step(request, slug, migration_id, Role.ENGINEER, apply)


@login_required
@require_POST
def migration_cancel(request, slug, migration_id):
    return _step(request, slug, migration_id, Role.ENGINEER, lambda req: workflow.cancel(req, request.user))


@login_required
@require_POST
def migration_restore(request, slug, migration_id):
    """Admins restore a Neon branch to the LSN recorded before one of this request's applies."""
    project, _ = get_project_for_user(request, slug, Role.ADMIN)
    req = _request_or_404(project, migration_id)
    run_id = request.POST.get("run", "")
    run = ApplyRun.objects.filter(revision__request=req, pk=int(run_id)).first() if run_id.isdigit() else None
    if not project.is_neon or run is None or not run.lsn_before:
        messages.error(request, "Only an apply on a Neon branch with a recorded LSN can be restored to.")
        return _to_page(req)
    with transaction.atomic():
        task_run = tasks.enqueue_restore(run, request.user)
    messages.success(
        request, f"Restoring {req.branch_label} to LSN {run.lsn_before}; the current state is kept as "
        f"{task_run.params['preserve_under_name']}."
    )  # fmt: skip
    return _to_page(req)


@login_required
@require_GET
def migration_progress(request, slug, migration_id):
    """The htmx partial of the apply and rehearsal under way; stops polling (286) once both are over."""
    project, membership = get_project_for_user(request, slug)
    req = _request_or_404(project, migration_id)
    if not request.htmx:
        return _to_page(req)
    context = request_page_context(req, request.user, membership)
    run = context["active_task_run"]
    running = run is not None and not run.is_finished
    # The last answer also swaps (out of band) what the run's end changed: no reload needed.
    template = "migrations_app/_progress.html" if running else "migrations_app/_progress_final.html"
    return task_partial(request, template, context, run)
