from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.common.access import get_project_for_user


@login_required
@require_GET
def migration_list(request, slug):
    project, _ = get_project_for_user(request, slug)
    return render(request, "migrations_app/list.html", {"project": project})
