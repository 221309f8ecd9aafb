"""The history part of /projects/<slug>/migrations/: the timeline's context and the Refresh button.

migrations_app.views.migration_list renders the page; it calls timeline_context() and its
template includes migrations_app/history/_timeline.html, which reads everything from `history`.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from dashboard.common import audit
from dashboard.common.access import get_project_for_user
from dashboard.models import Outcome, Role
from dashboard.neon.state import branches_for, resolve_branch
from migrations_app.history import services
from migrations_app.history.store import branch_of
from migrations_app.readers import TOOLS


def _branch(project, wanted: str):
    """(NeonBranch or None, known): the branch named or id'd by `wanted`; unknown ones give the default."""
    wanted = wanted.strip()[:200]
    record = resolve_branch(project, wanted) if wanted else None
    return record, not wanted or record is not None


def _query(**values) -> str:
    return urlencode({key: value for key, value in values.items() if value})


def timeline_context(request, project, membership) -> dict:
    """{"history": ...} for the migrations page: one branch's timeline, filtered by ?tool=, paged."""
    record, _ = _branch(project, request.GET.get("branch", ""))
    branch_id, branch_name = branch_of(record)
    items, history = services.timeline(project, branch_id)
    tool = request.GET.get("tool", "")[:50]
    error = ""
    if tool and tool not in (*TOOLS, services.SCHEMA, services.DASHBOARD):
        error, tool = f"There is no tool “{tool}”: showing every tool.", ""
    shown = [item for item in items if item.tool == tool] if tool else items
    # ?tpage=: the reviewed-migrations list above the timeline pages its own list with ?page=.
    page = Paginator(shown, settings.MIGRATION_HISTORY_PAGE_SIZE).get_page(request.GET.get("tpage"))
    services.summarize_versions(page.object_list)
    context = {
        "branch_name": branch_name,
        "record": history.record,
        "read": history.read,
        "problems": history.record.problems if history.record else [],
        "page": page,
        "tool": tool,
        "tools": [(name, services.Item(name, None).label) for name in services.tools_in(items)],
        "filter_prefix": _query(branch=branch_name),
        "query_prefix": _query(branch=branch_name, tool=tool),
        "drifted": sum(1 for item in items if item.drifted),
        "error": error,
        "can_refresh": membership.has_role(Role.ENGINEER),
    }
    context.update(_comparison(request, project, branch_id, branch_name))
    return {"history": context}


def _comparison(request, project, branch_id: str, branch_name: str) -> dict:
    """?compare=<branch>: this branch's newest read against the other's ("applied on main, missing on dev")."""
    branches = branches_for(project)
    here = branch_name or next((b.name for b in branches if b.is_default), "")
    result = {"branches": [b.name for b in branches if b.name != here], "here": here}
    wanted = request.GET.get("compare", "").strip()[:200]
    if not wanted:
        return result
    other, known = _branch(project, wanted)
    other_id, _ = branch_of(other)
    if not known or other_id == branch_id:
        return {**result, "compare_error": f"Choose another known branch than “{wanted}” to compare with."}
    differences, both = services.compare(project, branch_id, other_id)
    return {**result, "compare": other.name, "differences": differences, "compare_complete": both}


@login_required
@require_POST
def history_refresh(request, slug):
    """Read the history now (engineers and admins); never for an idle Neon compute."""
    project, _ = get_project_for_user(
        request,
        slug,
        Role.ENGINEER,
        action="migrations.history_refresh",
        message="Reading the migration history connects to the database: it needs the engineer role.",
    )
    wanted = request.POST.get("branch", "")
    record, known = _branch(project, wanted)
    target = reverse("migration_list", args=[project.slug])
    suffix = "?" + _query(branch=record.name) if record is not None else ""
    if not known:
        error = "That branch is unknown to the dashboard; sync the branches first."
        audit.record(request.user, "migrations.history_refresh", project=project, outcome=Outcome.FAILURE,
                     error=error)  # fmt: skip
        messages.error(request, error)
        return redirect(target)
    stored, error = services.refresh(project, record)
    audit.record(request.user, "migrations.history_refresh", project=project, obj=stored,
                 outcome=Outcome.FAILURE if error else Outcome.SUCCESS, error=error[:500],
                 branch=branch_of(record)[1])  # fmt: skip
    if error:
        messages.error(request, error)
    else:
        count = stored.tool_tables
        messages.success(
            request, f"Migration history read: {count} history table{'s' if count != 1 else ''}."
        )
    return redirect(target + suffix)
