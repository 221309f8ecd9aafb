"""Neon branches and computes of a project: list, sync, create, delete, reset, start, suspend, wake.

Actions run in a worker (they wait on Neon's operations); the page shows their
progress by polling a small partial that stops when the run ends.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.common import audit
from dashboard.common.access import get_project_for_user
from dashboard.common.htmx import render_page, task_partial, wants_partial
from dashboard.models import NeonBranch, NeonSyncState, Outcome, Project, Role, TaskRun
from dashboard.neon.actions import LABELS, refusal_reason
from dashboard.neon.forms import BranchCreateForm
from dashboard.neon.state import branches_for
from dashboard.neon.tasks import ACTION_KIND, SYNC_KIND, active_action, neon_action, sync_neon_project
from dashboard.taskruns import lifecycle

RECENT_RUNS = 5


def _recent_runs(project):
    return TaskRun.objects.filter(project=project, kind__in=(SYNC_KIND, ACTION_KIND)).order_by("-created_at")[
        :RECENT_RUNS
    ]


def _page_context(project, membership, form=None) -> dict:
    branches = branches_for(project)
    names = {b.branch_id: b.name for b in branches}
    for branch in branches:
        branch.parent_name = names.get(branch.parent_id, branch.parent_id)
        branch.compute = branch.read_write_compute
        branch.delete_refusal = refusal_reason(branch, "delete")
        branch.reset_refusal = refusal_reason(branch, "reset")
    is_admin = membership.has_role(Role.ADMIN)
    return {
        "project": project,
        "membership": membership,
        "branches": branches,
        "sync": NeonSyncState.objects.filter(project=project).first(),
        "runs": _recent_runs(project),
        "is_admin": is_admin,
        "can_wake": membership.has_role(Role.ENGINEER),
        "form": form or (BranchCreateForm(branches=branches) if is_admin and branches else None),
    }


@login_required
@require_GET
def branch_list(request, slug):
    project, membership = get_project_for_user(request, slug)
    return render_page(request, "neon/list.html", "neon/_table.html", _page_context(project, membership))


def _neon_project_or_404(request, slug, minimum, action: str):
    project, membership = get_project_for_user(request, slug, minimum, action=action)
    if not project.is_neon:
        raise Http404("This project is not linked to a Neon project.")
    return project, membership


@login_required
@require_POST
def branch_sync(request, slug):
    project, _ = _neon_project_or_404(request, slug, Role.ENGINEER, "neon.sync")
    with transaction.atomic():
        lifecycle.enqueue(
            sync_neon_project, SYNC_KIND, project=project, user=request.user, params={"action": "sync"}
        )
        audit.record(request.user, "neon.sync", project=project, obj=project)
    messages.info(request, "Syncing branches and computes from Neon.")
    return redirect("branch_list", slug=project.slug)


def _start_action(request, project, action: str, branch: NeonBranch | None = None, **params) -> None:
    """Queue the action and audit the request now (the worker audits the outcome); refuse a repeat.

    The project row is locked while checking, so two identical submits at once queue one run.
    """
    params = {
        "action": action,
        "branch_id": branch.branch_id if branch else "",
        "branch_name": branch.name if branch else "",
        **params,
    }
    target = params.get("name") or (branch.name if branch else "new branch")
    label = params.get("name") or (branch.name if branch else "")
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).values_list("pk", flat=True).first()
        if active_action(project, params) is not None:
            audit.record(request.user, f"neon.{action}", project=project, obj=branch, outcome=Outcome.DENIED,
                         branch=label, reason="the same request is still running")  # fmt: skip
            messages.error(
                request,
                f"{LABELS[action]}: {target} was already requested and has not finished; "
                "wait for it to end (its progress is shown below).",
            )
            return
        run = lifecycle.enqueue(neon_action, ACTION_KIND, project=project, user=request.user, params=params)
        audit.record(request.user, f"neon.{action}.requested", project=project, obj=branch, branch=label,
                     run=str(run.pk))  # fmt: skip
    if lifecycle.queue_failed(run):
        messages.error(
            request, f"{LABELS[action]}: {target}. The task queue is unreachable; it will not run."
        )
    else:
        messages.info(request, f"{LABELS[action]}: {target}. Progress is shown below.")


@login_required
@require_POST
def branch_create(request, slug):
    project, membership = _neon_project_or_404(request, slug, Role.ADMIN, "neon.create")
    form = BranchCreateForm(request.POST, branches=branches_for(project))
    if not form.is_valid():
        audit.record(
            request.user, "neon.create", project=project, outcome=Outcome.FAILURE, error="invalid form"
        )
        return render(request, "neon/list.html", _page_context(project, membership, form), status=400)
    stamp = form.cleaned_data["parent_timestamp"]
    _start_action(
        request,
        project,
        "create",
        parent_id=form.cleaned_data["parent_id"],
        name=form.cleaned_data["name"],
        parent_timestamp=stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else "",
        init_source="schema-only" if form.cleaned_data["schema_only"] else "",
    )
    return redirect("branch_list", slug=project.slug)


def _branch_or_404(project, branch_id: str) -> NeonBranch:
    branch = NeonBranch.objects.filter(project=project, branch_id=branch_id).first()
    if branch is None:
        raise Http404("No such branch")
    return branch


def _confirmed_destructive(request, slug, branch_id, action: str):
    project, _ = _neon_project_or_404(request, slug, Role.ADMIN, f"neon.{action}")
    branch = _branch_or_404(project, branch_id)
    reason = refusal_reason(branch, action)
    if reason:
        audit.record(
            request.user,
            f"neon.{action}",
            project=project,
            obj=branch,
            outcome=Outcome.DENIED,
            branch=branch.name,
            error=reason,
        )
        messages.error(request, reason)
        return redirect("branch_list", slug=project.slug)
    if request.method == "GET":
        return render(
            request,
            "neon/confirm.html",
            {"project": project, "branch": branch, "action": action, "label": LABELS[action]},
        )
    if request.POST.get("confirm_name") != branch.name:
        messages.error(request, "Type the branch name exactly to confirm.")
        return redirect(f"branch_{action}", slug=project.slug, branch_id=branch.branch_id)
    _start_action(request, project, action, branch)
    return redirect("branch_list", slug=project.slug)


@login_required
@require_http_methods(["GET", "POST"])
def branch_delete(request, slug, branch_id):
    return _confirmed_destructive(request, slug, branch_id, "delete")


@login_required
@require_http_methods(["GET", "POST"])
def branch_reset(request, slug, branch_id):
    return _confirmed_destructive(request, slug, branch_id, "reset")


def _compute_action(request, slug, branch_id, action: str, minimum: str):
    project, _ = _neon_project_or_404(request, slug, minimum, f"neon.{action}")
    branch = _branch_or_404(project, branch_id)
    if branch.read_write_compute is None:
        messages.error(request, f"{branch.name} has no compute.")
        return redirect("branch_list", slug=project.slug)
    _start_action(request, project, action, branch)
    return redirect("branch_list", slug=project.slug)


@login_required
@require_POST
def compute_start(request, slug, branch_id):
    return _compute_action(request, slug, branch_id, "start", Role.ADMIN)


@login_required
@require_POST
def compute_suspend(request, slug, branch_id):
    return _compute_action(request, slug, branch_id, "suspend", Role.ADMIN)


@login_required
@require_POST
def compute_wake(request, slug, branch_id):
    """A person asks to wake an idle compute (engineers too): start it and measure the connect time."""
    return _compute_action(request, slug, branch_id, "wake", Role.ENGINEER)


@login_required
@require_GET
def task_status(request, slug, run_id):
    project, _ = get_project_for_user(request, slug)
    run = TaskRun.objects.filter(pk=run_id, project=project, kind__in=(SYNC_KIND, ACTION_KIND)).first()
    if run is None:
        raise Http404("No such task")
    context = {"project": project, "run": run, "label": LABELS.get(run.params.get("action"), "Sync")}
    if not wants_partial(request):
        return render(request, "neon/task.html", context)
    response = task_partial(request, "neon/_task.html", context, run)
    if run.is_finished:
        response["HX-Trigger"] = "branchesChanged"  # the branch list reloads itself
    return response
