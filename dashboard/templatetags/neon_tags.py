"""Template helpers of the Neon area (used by the project overview)."""

from django import template

from dashboard.models import NeonSyncState
from dashboard.neon.state import compute_for, resolve_branch

register = template.Library()


@register.simple_tag
def neon_overview(project) -> dict:
    """Stored state of the default branch's compute; reads the dashboard database only, never the target."""
    if not project.is_neon:
        return {}
    return {
        "branch": resolve_branch(project),
        "compute": compute_for(project),
        "sync": NeonSyncState.objects.filter(project=project).first(),
        "branch_count": project.neon_branches.count(),
    }
