"""Project registry: list, register, edit, overview, connection check status."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.common import audit
from dashboard.common.access import get_project_for_user, teams_where, visible_projects
from dashboard.common.crypto import is_readable
from dashboard.common.htmx import task_partial, wants_partial
from dashboard.health.services import latest as latest_health
from dashboard.models import Outcome, Project, Role, TaskRun
from dashboard.neon.tasks import refresh_branch_credentials
from dashboard.projects.forms import ProjectForm
from dashboard.projects.tasks import CHECK_KIND, start_connection_check
from dashboard.taskruns import lifecycle

# Branch URIs from Neon carry the role's password: they are fetched again when these change.
CREDENTIAL_FIELDS = {"pooled_url", "direct_url", "neon_api_key", "neon_project_id"}
QUEUE_DOWN = "the task queue is unreachable; the check will not run until it is back."


@login_required
@require_GET
def project_list(request):
    projects = visible_projects(request.user).order_by("team__name", "name")
    page = Paginator(projects, 50).get_page(request.GET.get("page"))
    can_register = teams_where(request.user, Role.ADMIN).exists()
    return render(request, "projects/list.html", {"page": page, "can_register": can_register})


UNREADABLE = object()  # stands for a stored secret that cannot be decrypted: any new value differs


def _editable_values(project: Project) -> dict:
    names = [name for name in ProjectForm.field_order if name != "team"]
    return {name: getattr(project, name) if is_readable(project, name) else UNREADABLE for name in names}


def _changed_fields(before: dict, project: Project) -> list[str]:
    """Names of fields whose stored value changed (a blank secret field keeps its value)."""
    return sorted(name for name, value in before.items() if getattr(project, name) != value)


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request):
    teams = teams_where(request.user, Role.ADMIN)
    if not teams.exists():
        if request.method == "POST":
            audit.record(request.user, "project.create", outcome=Outcome.DENIED)
        raise PermissionDenied("Only team admins can register projects.")
    form = ProjectForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            project = form.save(commit=False)
            project.slug = form.cleaned_data["slug"]
            project.save()
            audit.record(request.user, "project.create", project=project, obj=project)
            run = start_connection_check(project, request.user, first=True)
        if lifecycle.queue_failed(run):
            messages.error(request, f"Project {project.name} registered, but {QUEUE_DOWN}")
        else:
            messages.success(
                request,
                f"Project {project.name} registered; checking the connection. Once it answers, its first "
                "schema snapshot and statement baseline are taken (unless its Neon compute is idle).",
            )
        return redirect("project_detail", slug=project.slug)
    return render(request, "projects/form.html", {"form": form, "editing": False})


@login_required
@require_http_methods(["GET", "POST"])
def project_edit(request, slug):
    project, _ = get_project_for_user(request, slug, Role.ADMIN, action="project.update")
    before = _editable_values(project)
    form = ProjectForm(request.POST or None, instance=project, teams=None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            project = form.save(commit=False)
            project.slug = form.cleaned_data["slug"]
            project.save()
            changed = _changed_fields(before, project)
            # Field names only: secret values never reach the audit log.
            audit.record(request.user, "project.update", project=project, obj=project, fields=changed)
            if CREDENTIAL_FIELDS & set(changed):
                refresh_branch_credentials(project, request.user)
            run = start_connection_check(project, request.user)
        if lifecycle.queue_failed(run):
            messages.error(request, f"Project updated, but {QUEUE_DOWN}")
        else:
            messages.success(request, "Project updated; checking the connection again.")
        return redirect("project_detail", slug=project.slug)
    return render(request, "projects/form.html", {"form": form, "editing": True, "project": project})


@login_required
@require_http_methods(["GET", "POST"])
def project_delete(request, slug):
    project, _ = get_project_for_user(request, slug, Role.ADMIN, action="project.delete")
    if request.method == "POST":
        if request.POST.get("confirm_name") != project.name:
            messages.error(request, "Type the project name exactly to confirm deletion.")
            return redirect("project_delete", slug=project.slug)
        with transaction.atomic():
            audit.record(request.user, "project.delete", team=project.team, obj=project)
            project.delete()
        messages.success(request, f"Project {project.name} was removed from the dashboard.")
        return redirect("project_list")
    return render(request, "projects/delete.html", {"project": project})


@login_required
@require_POST
def project_check(request, slug):
    project, _ = get_project_for_user(request, slug, Role.ENGINEER, action="project.check")
    with transaction.atomic():
        run = start_connection_check(project, request.user)
        audit.record(request.user, "project.check", project=project, obj=project)
    if lifecycle.queue_failed(run):
        messages.error(request, f"Cannot check now: {QUEUE_DOWN}")
    if wants_partial(request):
        return _check_status_response(request, project)
    return redirect("project_detail", slug=project.slug)


def _latest_check(project: Project) -> TaskRun | None:
    return TaskRun.objects.filter(project=project, kind=CHECK_KIND).order_by("-created_at").first()


def _check_status_response(request, project: Project):
    project.refresh_from_db()
    run = _latest_check(project)
    return task_partial(request, "projects/_check_status.html", {"project": project, "run": run}, run)


@login_required
@require_GET
def project_check_status(request, slug):
    project, _ = get_project_for_user(request, slug)
    return _check_status_response(request, project)


@login_required
@require_GET
def project_detail(request, slug):
    project, membership = get_project_for_user(request, slug)
    events = project.audit_events.select_related("actor")[:20]
    context = {
        "project": project,
        "membership": membership,
        "run": _latest_check(project),
        "events": events,
        "can_edit": membership.has_role(Role.ADMIN),
        "can_check": membership.has_role(Role.ENGINEER),
        "health": latest_health(project),  # stored health checks; rendering never connects to the target
    }
    return render(request, "projects/detail.html", context)


@login_required
@require_GET
def project_audit(request, slug):
    project, _ = get_project_for_user(request, slug)
    page = Paginator(project.audit_events.select_related("actor"), 50).get_page(request.GET.get("page"))
    return render(request, "projects/audit.html", {"project": project, "page": page})
