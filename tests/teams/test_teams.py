"""Team pages: members visible to the team, managed by admins only, never leaving a team without an admin."""

import pytest

from dashboard.models import AuditEvent, Membership

WHO = ["anonymous", "other_team", "viewer", "engineer", "admin"]


@pytest.fixture
def viewer_membership(users, team):
    return Membership.objects.get(team=team, user=users["viewer"])


def matrix():
    return [
        ("get", "/teams/", {}, [302, 200, 200, 200, 200]),
        ("get", "/teams/acme/", {}, [302, 404, 200, 200, 200]),
        (
            "post",
            "/teams/acme/members/add/",
            {"username": "loner", "role": "viewer"},
            [302, 404, 403, 403, 302],
        ),
        ("post", "/teams/acme/members/{vm}/role/", {"role": "engineer"}, [302, 404, 403, 403, 302]),
        ("get", "/teams/acme/members/{vm}/remove/", {}, [302, 404, 403, 403, 200]),
        ("post", "/teams/acme/members/{vm}/remove/", {}, [302, 404, 403, 403, 302]),
    ]


@pytest.mark.parametrize("who_index, who", list(enumerate(WHO)))
@pytest.mark.parametrize("method, url, data, expected", matrix())
def test_team_permission_matrix(client_for, viewer_membership, who_index, who, method, url, data, expected):
    client = client_for(None if who == "anonymous" else who)
    response = getattr(client, method)(url.format(vm=viewer_membership.pk), data)
    assert response.status_code == expected[who_index], f"{who} {method} {url}"


def test_admin_adds_changes_and_removes_a_member_with_audit(client_for, team, users, viewer_membership):
    client = client_for("admin")
    client.post("/teams/acme/members/add/", {"username": "loner", "role": "engineer"})
    assert Membership.objects.get(team=team, user=users["no_team"]).role == "engineer"
    client.post(f"/teams/acme/members/{viewer_membership.pk}/role/", {"role": "admin"})
    viewer_membership.refresh_from_db()
    assert viewer_membership.role == "admin"
    client.post(f"/teams/acme/members/{viewer_membership.pk}/remove/")
    assert not Membership.objects.filter(pk=viewer_membership.pk).exists()
    actions = list(
        AuditEvent.objects.filter(team=team).order_by("created_at").values_list("action", flat=True)
    )
    assert actions == ["member.add", "member.change_role", "member.remove"]


def test_unknown_user_or_bad_role_changes_nothing(client_for, team):
    client = client_for("admin")
    before = Membership.objects.count()
    response = client.post("/teams/acme/members/add/", {"username": "ghost", "role": "viewer"}, follow=True)
    assert "&#x27;ghost&#x27; cannot be added" in response.content.decode()
    response = client.post(
        "/teams/acme/members/add/", {"username": "loner", "role": "superuser"}, follow=True
    )
    assert "Choose a role" in response.content.decode()
    assert Membership.objects.count() == before


def test_last_admin_cannot_be_demoted_or_removed(client_for, team, users):
    admin = Membership.objects.get(team=team, user=users["admin"])
    client = client_for("admin")
    response = client.post(f"/teams/acme/members/{admin.pk}/role/", {"role": "viewer"}, follow=True)
    assert "A team needs at least one admin" in response.content.decode()
    client.post(f"/teams/acme/members/{admin.pk}/remove/")
    admin.refresh_from_db()
    assert admin.role == "admin"
    assert AuditEvent.objects.filter(action="member.change_role", outcome="denied").exists()


def test_denied_removal_of_the_last_admin_is_audited(client_for, team, users):
    admin = Membership.objects.get(team=team, user=users["admin"])
    response = client_for("admin").post(f"/teams/acme/members/{admin.pk}/remove/", follow=True)
    assert "A team needs at least one admin" in response.content.decode()
    assert Membership.objects.filter(pk=admin.pk, role="admin").exists()
    event = AuditEvent.objects.get(action="member.remove")
    assert event.outcome == "denied" and event.actor == users["admin"] and event.team == team
    assert event.detail == {"username": "admin", "reason": "last admin"}


def test_add_member_does_not_tell_which_user_names_exist_elsewhere(client_for, team, users):
    """A user of another team only is refused with the very message a name nobody has gets."""
    client = client_for("admin")
    answers = {}
    for username in ("outsider", "ghost"):
        response = client.post(
            "/teams/acme/members/add/", {"username": username, "role": "viewer"}, follow=True
        )
        text = response.content.decode()
        answers[username] = text[text.index('class="messages"') :].split("</ul>")[0].replace(username, "NAME")
    assert answers["outsider"] == answers["ghost"]
    assert "NAME" in answers["ghost"] and "can be added" in answers["ghost"]
    assert not Membership.objects.filter(team=team, user=users["other_team"]).exists()
    denied = AuditEvent.objects.filter(action="member.add", outcome="denied").values_list("detail", flat=True)
    assert sorted(d["username"] for d in denied) == ["ghost", "outsider"]


def test_admin_adds_someone_they_share_another_team_with(client_for, team, other_team, users):
    Membership.objects.create(team=other_team, user=users["admin"], role="viewer")
    client_for("admin").post("/teams/acme/members/add/", {"username": "outsider", "role": "viewer"})
    assert Membership.objects.get(team=team, user=users["other_team"]).role == "viewer"
