"""Teams and their members: any member sees the list, admins add, change roles and remove."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.common import audit
from dashboard.common.access import get_team_for_user
from dashboard.models import Membership, Outcome, Role, Team


@login_required
@require_GET
def team_list(request):
    teams = Team.objects.filter(memberships__user=request.user).order_by("name")
    return render(request, "teams/list.html", {"teams": teams})


@login_required
@require_GET
def team_detail(request, slug):
    team, membership = get_team_for_user(request, slug)
    members = team.memberships.select_related("user").order_by("user__username")
    context = {
        "team": team,
        "membership": membership,
        "members": members,
        "roles": Role.choices,
        "is_admin": membership.has_role(Role.ADMIN),
    }
    return render(request, "teams/detail.html", context)


def _admin_count(team: Team) -> int:
    return team.memberships.filter(role=Role.ADMIN).count()


def _lock_team(team: Team, member: Membership) -> None:
    """Inside a transaction: lock the team row so two admins demoting or removing each other at
    once cannot both pass the last-admin check; then re-read the member's role under the lock."""
    Team.objects.select_for_update().filter(pk=team.pk).first()
    member.refresh_from_db(fields=["role"])


def addable_users(admin):
    """Users an admin may add by name: active users who share a team with them or have no team yet.

    Members of other teams only are left out, so the add form cannot be used to learn
    which user names exist on the installation (operators add them: manage.py add_member).
    """
    shared = Membership.objects.filter(team__memberships__user=admin).values("user_id")
    return (
        get_user_model().objects.filter(is_active=True).filter(Q(pk__in=shared) | Q(memberships__isnull=True))
    )


@login_required
@require_POST
def member_add(request, slug):
    team, _ = get_team_for_user(request, slug, Role.ADMIN, action="member.add")
    username = request.POST.get("username", "").strip()
    role = request.POST.get("role", "")
    user = addable_users(request.user).filter(username=username).first()
    if role not in Role.values:
        messages.error(request, "Choose a role: viewer, engineer or admin.")
    elif user is None:
        # The same answer whether nobody has the name or a member of another team has it.
        audit.record(request.user, "member.add", team=team, outcome=Outcome.DENIED, username=username[:150])
        messages.error(
            request,
            f"{username!r} cannot be added: no user by that name can be added to this team. "
            "Operators add users with manage.py add_member.",
        )
    elif Membership.objects.filter(team=team, user=user).exists():
        messages.error(request, f"{username} is already a member; change their role below.")
    else:
        membership = Membership.objects.create(team=team, user=user, role=role)
        audit.record(request.user, "member.add", team=team, obj=membership, username=username, role=role)
        messages.success(request, f"Added {username} as {role}.")
    return redirect("team_detail", slug=team.slug)


@login_required
@require_POST
def member_role(request, slug, member_id):
    team, _ = get_team_for_user(request, slug, Role.ADMIN, action="member.change_role")
    member = get_object_or_404(Membership.objects.select_related("user"), pk=member_id, team=team)
    role = request.POST.get("role", "")
    with transaction.atomic():
        _lock_team(team, member)
        if role not in Role.values:
            messages.error(request, "Choose a role: viewer, engineer or admin.")
        elif member.role == Role.ADMIN and role != Role.ADMIN and _admin_count(team) == 1:
            audit.record(
                request.user,
                "member.change_role",
                team=team,
                obj=member,
                outcome=Outcome.DENIED,
                role=role,
                reason="last admin",
            )
            messages.error(request, "A team needs at least one admin: promote someone else first.")
        else:
            old_role, member.role = member.role, role
            member.save(update_fields=["role"])
            audit.record(
                request.user, "member.change_role", team=team, obj=member, old_role=old_role, role=role
            )
            messages.success(request, f"{member.user.username} is now {role}.")
    return redirect("team_detail", slug=team.slug)


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request, slug, member_id):
    team, _ = get_team_for_user(request, slug, Role.ADMIN, action="member.remove")
    member = get_object_or_404(Membership.objects.select_related("user"), pk=member_id, team=team)
    if request.method == "GET":
        return render(request, "teams/remove.html", {"team": team, "member": member})
    with transaction.atomic():
        _lock_team(team, member)
        if member.role == Role.ADMIN and _admin_count(team) == 1:
            audit.record(
                request.user,
                "member.remove",
                team=team,
                obj=member,
                outcome=Outcome.DENIED,
                username=member.user.username,
                reason="last admin",
            )
            messages.error(request, "A team needs at least one admin: promote someone else first.")
            return redirect("team_detail", slug=team.slug)
        audit.record(request.user, "member.remove", team=team, obj=member, username=member.user.username)
        member.delete()
    messages.success(request, f"Removed {member.user.username} from {team.name}.")
    return redirect("team_detail", slug=team.slug)
