"""Template helpers of the Neon area (used by the project overview)."""

from django import template

from dashboard.models import NeonSyncState
from dashboard.neon.state import branches_for, compute_for, loaded_compute_is_idle, resolve_branch

register = template.Library()


@register.simple_tag
def neon_overview(project) -> dict:
    """Stored state of the default branch's compute; reads the dashboard database only, never the target."""
    if not project.is_neon:
        return {}
    compute = compute_for(project)
    return {
        "branch": resolve_branch(project),
        "compute": compute,
        # The decision background jobs make, so the wake button shows exactly when they stay away.
        "idle": compute is not None and loaded_compute_is_idle(project, compute),
        "sync": NeonSyncState.objects.filter(project=project).first(),
        "branch_count": project.neon_branches.count(),
    }


@register.inclusion_tag("neon/_branch_picker.html", takes_context=True)
def neon_branch_picker(context, project) -> dict:
    """A GET form choosing ?branch=<name> for pages that act on a target; nothing for non-Neon projects.

    Views read the choice with dashboard.neon.state.branch_from_request(request, project).
    """
    request = context["request"]
    branches = branches_for(project)
    chosen = (request.GET.get("branch") or "").strip()
    known = {b.name for b in branches}
    default = next((b.name for b in branches if b.is_default), "")
    return {
        "branches": branches,
        "chosen": chosen if chosen in known else default,
        "unknown": chosen if chosen and chosen not in known else "",
        "path": request.path,
    }


@register.inclusion_tag("neon/_compute_idle.html", takes_context=True)
def neon_idle_notice(context, project, branch=None) -> dict:
    """For pages that would read a target: 'the compute is idle' with a wake button (engineers and admins).

    Renders nothing unless the compute of `branch` (default branch if None) counts as idle by the same
    decision background jobs use (dashboard.neon.state.compute_is_idle), or, for a Neon project never
    synced, says so. Uses stored state; asks the Neon API at most once per NEON_STATE_MAX_AGE_SECONDS.
    """
    if not project.is_neon:
        return {}
    compute = compute_for(project, branch)
    membership = context.get("membership")
    return {
        "project": project,
        "compute": compute if loaded_compute_is_idle(project, compute) else None,
        "never_synced": compute is None,
        "branch": resolve_branch(project, branch),
        "can_wake": bool(membership and membership.has_role("engineer")),
        "csrf_token": context.get("csrf_token"),
    }
