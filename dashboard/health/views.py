"""Health pages: the detail page and the on-demand refresh (tiles on the overview render from storage)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.common import audit
from dashboard.common.access import get_project_for_user
from dashboard.common.htmx import wants_partial
from dashboard.health import services as healthstore
from dashboard.models import Outcome, Role


@login_required
@require_GET
def health_page(request, slug):
    project, membership = get_project_for_user(request, slug)
    context = {
        "project": project,
        "membership": membership,
        "health": healthstore.latest(project),
        "can_check": membership.has_role(Role.ENGINEER),
    }
    return render(request, "health/page.html", context)


@login_required
@require_POST
def health_refresh(request, slug):
    """An engineer asked for fresh checks: one short, timed read (this may wake a Neon compute on purpose).

    Viewers may not: only engineers and admins asking on purpose wake a compute.
    """
    project, membership = get_project_for_user(
        request,
        slug,
        Role.ENGINEER,
        action="health.refresh",
        message="Refreshing health checks connects to the database: it needs the engineer role.",
    )
    snapshot = healthstore.take_health_snapshot(project, manual=True)
    audit.record(
        request.user,
        "health.refresh",
        project=project,
        outcome=Outcome.FAILURE if snapshot.error else Outcome.SUCCESS,
        error=snapshot.error[:500],
    )
    if wants_partial(request):
        return render(
            request,
            "health/_tiles.html",
            {
                "project": project,
                "membership": membership,
                "health": healthstore.latest(project),
                "can_check": True,
            },
        )
    return redirect("health_page", slug=project.slug)
