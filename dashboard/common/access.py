"""Who may see and do what: one helper per object decides 404 versus 403.

A member of another team (or a stranger) gets 404 so project names do not leak;
a member whose role is too low gets 403. A refused state-changing request (POST)
is an attempted action: it is audited as "denied" the same way in every area.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from dashboard.common import audit
from dashboard.models import Membership, Outcome, Project, Role, Team

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def membership_for(user, team_id) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(team_id=team_id, user=user).first()


def get_project_for_user(
    request, slug: str, minimum: str = Role.VIEWER, *, action: str = "", **detail
) -> tuple[Project, Membership]:
    """The project and the user's membership; 404 for strangers, 403 (audited for POSTs) for a low role.

    `action` names the audit event of a refused POST (default: the route name); `detail` goes with it.
    """
    project = Project.objects.select_related("team").filter(slug=slug).first()
    membership = membership_for(request.user, project.team_id) if project else None
    if project is None or membership is None:
        raise Http404("No such project")
    require_role(request, membership, minimum, project=project, action=action, **detail)
    return project, membership


def get_team_for_user(request, slug: str, minimum: str = Role.VIEWER, *, action: str = "", **detail):
    team = Team.objects.filter(slug=slug).first()
    membership = membership_for(request.user, team.pk) if team else None
    if team is None or membership is None:
        raise Http404("No such team")
    require_role(request, membership, minimum, team=team, action=action, **detail)
    return team, membership


def require_role(
    request, membership: Membership, minimum: str, *, project=None, team=None, action="", message="", **detail
) -> None:
    """Raise 403 unless the member has `minimum`; a refused POST is audited as denied first.

    For views that load with a lower role and learn the role they need from the request
    (EXPLAIN ANALYZE, cancel versus terminate) as well as through get_project_for_user.
    """
    if membership.has_role(minimum):
        return
    scope = project.team if project is not None else team
    if request.method not in SAFE_METHODS:
        name = action or getattr(request.resolver_match, "url_name", "") or "unknown"
        audit.record(request.user, name, project=project, team=team, outcome=Outcome.DENIED, **detail)
    raise PermissionDenied(message or f"This needs the {minimum} role in team {scope.name}.")


def teams_where(user, minimum: str):
    """Teams in which the user has at least the given role."""
    ranks = [role for role in Role if Membership(role=role).has_role(minimum)]
    return (
        Team.objects.filter(memberships__user=user, memberships__role__in=ranks).distinct().order_by("name")
    )


def visible_projects(user):
    return Project.objects.filter(team__memberships__user=user).select_related("team").distinct()
