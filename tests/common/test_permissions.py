"""Permission matrix: every foundation URL x {anonymous, other team, viewer, engineer, admin}."""

import pytest

from dashboard.models import AuditEvent, Project

WHO = ["anonymous", "other_team", "viewer", "engineer", "admin"]

# (method, url, expected status per role in WHO order). 302 for anonymous = sent to login.
MATRIX = [
    ("get", "/projects/", [302, 200, 200, 200, 200]),
    ("get", "/projects/new/", [302, 200, 403, 403, 200]),  # other_team is admin of its own team
    ("get", "/projects/shop/", [302, 404, 200, 200, 200]),
    ("get", "/projects/shop/edit/", [302, 404, 403, 403, 200]),
    ("get", "/projects/shop/delete/", [302, 404, 403, 403, 200]),
    ("post", "/projects/shop/check/", [302, 404, 403, 302, 302]),
    ("get", "/projects/shop/check/status/", [302, 404, 200, 200, 200]),
    ("get", "/projects/shop/audit/", [302, 404, 200, 200, 200]),
    ("get", "/projects/shop/migrations/", [302, 404, 200, 200, 200]),
]


@pytest.mark.parametrize("who_index, who", list(enumerate(WHO)))
@pytest.mark.parametrize("method, url, expected", MATRIX)
def test_permission_matrix(client_for, project, who_index, who, method, url, expected):
    client = client_for(None if who == "anonymous" else who)
    response = getattr(client, method)(url)
    assert response.status_code == expected[who_index], f"{who} {method.upper()} {url}"
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/")


def test_other_team_admin_cannot_register_into_a_foreign_team(client_for, team):
    client = client_for("other_team")
    response = client.post(
        "/projects/new/", {"team": team.pk, "name": "Sneaky", "pooled_url": "postgresql://u:p@h/db"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Project.objects.filter(name="Sneaky").exists()


def test_viewer_sees_no_register_link(client_for, project):
    html = client_for("viewer").get("/projects/").content.decode()
    assert "/projects/new/" not in html


def test_viewer_cannot_delete_a_project(client_for, project):
    response = client_for("viewer").post("/projects/shop/delete/", {"confirm_name": "Shop"})
    assert response.status_code == 403
    assert Project.objects.filter(slug="shop").exists()


def test_admin_deletes_only_after_typing_the_name(client_for, project):
    client = client_for("admin")
    client.post("/projects/shop/delete/", {"confirm_name": "shop"})
    assert Project.objects.filter(slug="shop").exists()
    response = client.post("/projects/shop/delete/", {"confirm_name": "Shop"})
    assert response.status_code == 302
    assert not Project.objects.filter(slug="shop").exists()
    assert AuditEvent.objects.filter(
        action="project.delete", actor__username="admin", object_repr="Shop"
    ).exists()


def test_csrf_is_enforced_on_state_changes(users, project):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(users["admin"])
    response = client.post("/projects/shop/check/")
    assert response.status_code == 403


def test_page_sets_csrf_header_for_htmx_on_body(client_for, project):
    html = client_for("viewer").get("/projects/shop/").content.decode()
    assert '<body hx-headers=\'{"X-CSRFToken": "' in html


def test_forbidden_page_says_which_role_is_needed(client_for, project):
    response = client_for("viewer").get("/projects/shop/edit/")
    assert response.status_code == 403
    assert "This needs the admin role in team Acme." in response.content.decode()


def test_not_found_page_does_not_reveal_foreign_projects(client_for, project):
    response = client_for("other_team").get("/projects/shop/")
    assert response.status_code == 404
    assert "Shop" not in response.content.decode()
