from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.common.access import get_project_for_user
from migrations_app.history.views import timeline_context


@login_required
@require_GET
def migration_list(request, slug):
    project, membership = get_project_for_user(request, slug)
    context = {"project": project, "membership": membership}
    context.update(timeline_context(request, project, membership))
    return render(request, "migrations_app/list.html", context)
