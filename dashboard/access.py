"""Who may see and do what: one helper per object decides 404 versus 403.

A member of another team (or a stranger) gets 404 so project names do not leak;
a member whose role is too low gets 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from dashboard.models import Membership, Project, Role, Team


def membership_for(user, team_id) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(team_id=team_id, user=user).first()


def get_project_for_user(request, slug: str, minimum: str = Role.VIEWER) -> tuple[Project, Membership]:
    project = Project.objects.select_related("team").filter(slug=slug).first()
    membership = membership_for(request.user, project.team_id) if project else None
    if project is None or membership is None:
        raise Http404("No such project")
    if not membership.has_role(minimum):
        raise PermissionDenied(f"This needs the {minimum} role in team {project.team.name}.")
    return project, membership


def teams_where(user, minimum: str):
    """Teams in which the user has at least the given role."""
    ranks = [role for role in Role if Membership(role=role).has_role(minimum)]
    return (
        Team.objects.filter(memberships__user=user, memberships__role__in=ranks).distinct().order_by("name")
    )


def visible_projects(user):
    return Project.objects.filter(team__memberships__user=user).select_related("team").distinct()


def get_team_for_user(request, slug: str, minimum: str = Role.VIEWER) -> tuple[Team, Membership]:
    team = Team.objects.filter(slug=slug).first()
    membership = membership_for(request.user, team.pk) if team else None
    if team is None or membership is None:
        raise Http404("No such team")
    if not membership.has_role(minimum):
        raise PermissionDenied(f"This needs the {minimum} role in team {team.name}.")
    return team, membership
