"""Changes made in the Django admin are audited like changes made in the app."""

import pytest
from django.contrib.auth import get_user_model
from django.utils.timezone import localtime

from dashboard.models import AuditEvent, Membership, Project, Team


@pytest.fixture
def superuser_client(client, db):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    return client


def split(prefix, model, pk) -> dict:
    """A created_at value as the admin's date and time inputs post it (whole seconds, local time)."""
    obj = model.objects.get(pk=pk)
    whole = obj.created_at.replace(microsecond=0)
    model.objects.filter(pk=pk).update(created_at=whole)
    local = localtime(whole)
    values = {"created_at_0": local.strftime("%Y-%m-%d"), "created_at_1": local.strftime("%H:%M:%S")}
    # Fields with a callable default post their initial value too (show_hidden_initial).
    return {f"{lead}{prefix}{key}": value for key, value in values.items() for lead in ("", "initial-")}


def test_a_project_changed_in_the_admin_is_audited(superuser_client, project):
    assert superuser_client.get(f"/admin/dashboard/project/{project.pk}/change/").status_code == 200
    data = {"team": project.team_id, "name": "Shop renamed", "slug": "shop", "neon_project_id": ""}
    data.update(split("", Project, project.pk))
    response = superuser_client.post(f"/admin/dashboard/project/{project.pk}/change/", data)
    assert response.status_code == 302
    assert Project.objects.get(pk=project.pk).name == "Shop renamed"
    event = AuditEvent.objects.get(action="admin.project.update")
    assert event.actor.username == "root" and event.project == project and event.team == project.team
    assert event.detail == {"fields": ["name"]}
    assert event.outcome == "success"


def test_a_membership_changed_in_the_team_admin_is_audited(superuser_client, team, users):
    memberships = list(Membership.objects.filter(team=team).order_by("pk"))
    data = {
        "name": team.name,
        "slug": team.slug,
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    data.update(split("", Team, team.pk))
    for i, m in enumerate(memberships):
        data.update(split(f"memberships-{i}-", Membership, m.pk))
        data.update(
            {
                f"memberships-{i}-id": str(m.pk),
                f"memberships-{i}-team": str(team.pk),
                f"memberships-{i}-user": str(m.user_id),
                f"memberships-{i}-role": "admin" if m.user == users["viewer"] else m.role,
            }
        )
    response = superuser_client.post(f"/admin/dashboard/team/{team.pk}/change/", data)
    assert response.status_code == 302
    assert Membership.objects.get(team=team, user=users["viewer"]).role == "admin"
    event = AuditEvent.objects.get(action="admin.membership.update")
    assert event.actor.username == "root" and event.team == team
    assert event.detail == {"fields": ["role"], "username": "viewer", "role": "admin"}
    assert AuditEvent.objects.get(action="admin.team.update").detail == {"fields": []}


def test_a_token_revoked_in_the_admin_stops_working_and_is_audited(superuser_client, team, users):
    from io import StringIO

    from django.core.management import call_command

    from dashboard.models import ApiToken

    call_command("create_api_token", "--team", team.slug, "--user", "admin", stdout=StringIO())
    token = ApiToken.objects.get()
    page = superuser_client.get("/admin/dashboard/apitoken/").content.decode()
    assert token.prefix in page and token.token_hash not in page
    superuser_client.post(
        "/admin/dashboard/apitoken/", {"action": "revoke", "_selected_action": [token.pk], "index": 0}
    )
    token.refresh_from_db()
    assert token.revoked
    assert AuditEvent.objects.filter(action="api_token.revoke", actor__username="root", team=team).exists()
