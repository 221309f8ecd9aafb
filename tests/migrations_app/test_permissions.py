"""Permission matrix of the migrations URLs x {anonymous, other team, viewer, engineer, admin}.

Viewers see everything and change nothing (403 on every POST); members of other teams get 404.
"""

import pytest

from dashboard.models import AuditEvent
from migrations_app.models import ApplyRun, Approval, MigrationRequest, Revision
from tests.migrations_app.workflow_support import SIMPLE_SQL, approved, draft, rehearsed

WHO = ["anonymous", "other_team", "viewer", "engineer", "admin"]
NEW_SQL = "CREATE TABLE other_log (id bigint PRIMARY KEY);"

# (method, path under /projects/shop/migrations/, data, expected status per role in WHO order)
MATRIX = [
    ("get", "", {}, [302, 404, 200, 200, 200]),
    ("get", "new/", {}, [302, 404, 403, 200, 200]),
    ("post", "new/", {"title": "T", "sql": NEW_SQL}, [302, 404, 403, 302, 302]),
    ("get", "{id}/", {}, [302, 404, 200, 200, 200]),
    ("get", "{id}/edit/", {}, [302, 404, 403, 200, 200]),
    ("post", "{id}/edit/", {"title": "T2", "sql": NEW_SQL}, [302, 404, 403, 302, 302]),
    ("post", "{id}/approve/", {"comment": "ok"}, [302, 404, 403, 403, 302]),
    ("post", "{id}/reject/", {"comment": "no"}, [302, 404, 403, 403, 302]),
    ("post", "{id}/rehearse/", {}, [302, 404, 403, 302, 302]),
    ("post", "{id}/cancel/", {}, [302, 404, 403, 302, 302]),
    ("post", "{id}/restore/", {"run": "1"}, [302, 404, 403, 403, 302]),  # plain project: refused, message
    ("get", "{id}/progress/", {}, [302, 404, 302, 302, 302]),  # without htmx: back to the page
]


@pytest.fixture
def req(project, users):
    return rehearsed(draft(project, users["engineer"]))


@pytest.mark.parametrize("who_index, who", list(enumerate(WHO)))
@pytest.mark.parametrize("method, path, data, expected", MATRIX)
def test_permission_matrix(client_for, req, who_index, who, method, path, data, expected):
    url = f"/projects/shop/migrations/{path.format(id=req.pk)}"
    response = getattr(client_for(None if who == "anonymous" else who), method)(url, data)
    assert response.status_code == expected[who_index], f"{who} {method.upper()} {url}"
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who, expected", [("anonymous", 302), ("other_team", 404), ("viewer", 403),
                                           ("engineer", 302), ("admin", 302)])  # fmt: skip
def test_apply_needs_engineer(client_for, req, users, who, expected):
    approved(req, users["admin"])
    response = client_for(None if who == "anonymous" else who).post(
        f"/projects/shop/migrations/{req.pk}/apply/"
    )
    assert response.status_code == expected
    assert ApplyRun.objects.filter(revision__request=req).exists() == (expected == 302 and who != "anonymous")


def test_htmx_progress_is_a_partial_that_stops_polling_when_nothing_runs(client_for, req):
    response = client_for("viewer").get(
        f"/projects/shop/migrations/{req.pk}/progress/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 286
    assert 'id="rehearsal"' in response.content.decode() and "<html" not in response.content.decode()


def test_viewer_posts_change_nothing(client_for, req):
    before = (MigrationRequest.objects.count(), Revision.objects.count(), Approval.objects.count())
    client = client_for("viewer")
    for path in ("new/", f"{req.pk}/edit/", f"{req.pk}/approve/", f"{req.pk}/reject/", f"{req.pk}/apply/",
                 f"{req.pk}/cancel/", f"{req.pk}/rehearse/"):  # fmt: skip
        client.post(f"/projects/shop/migrations/{path}", {"title": "x", "sql": NEW_SQL, "comment": "x"})
    assert (MigrationRequest.objects.count(), Revision.objects.count(), Approval.objects.count()) == before
    req.refresh_from_db()
    assert req.state == "awaiting_approval"


def test_viewer_sees_the_request_but_no_buttons(client_for, req):
    html = client_for("viewer").get(f"/projects/shop/migrations/{req.pk}/").content.decode()
    assert SIMPLE_SQL.rstrip(";") in html
    for button in ("Edit SQL", "Approve revision", "Reject", "Cancel request", "Apply to"):
        assert button not in html
    listing = client_for("viewer").get("/projects/shop/migrations/").content.decode()
    assert "Add audit log" in listing and "Draft a migration" not in listing


def test_a_request_of_another_project_is_404(client_for, req, team):
    from dashboard.models import Project
    from tests.support import pg

    Project.objects.create(team=team, name="Other", slug="other-shop", pooled_url=pg.url_for("postgres"))
    response = client_for("admin").get(f"/projects/other-shop/migrations/{req.pk}/")
    assert response.status_code == 404


def test_engineer_approving_is_refused_and_audited_nowhere_else(client_for, req):
    client_for("engineer").post(f"/projects/shop/migrations/{req.pk}/approve/")
    assert not Approval.objects.exists()
    assert not AuditEvent.objects.filter(action="migration.approve", outcome="success").exists()
