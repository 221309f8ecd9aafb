"""Every schema URL for every kind of visitor: anonymous, other team, viewer, engineer, admin."""

import pytest

from dashboard.models import AuditEvent, Project, TaskRun
from dashboard.schema.snapshots import read_project_catalog, store_catalog
from tests.support import pg

pytestmark = pytest.mark.django_db

# (method, url, minimum role, status for a permitted user)
URLS = [
    ("get", "/projects/shop/schema/", "viewer", 200),
    ("get", "/projects/shop/schema/refresh/", "viewer", 200),
    ("post", "/projects/shop/schema/refresh/", "engineer", 302),
    ("get", "/projects/shop/schema/advice/", "viewer", 200),
    ("get", "/projects/shop/schema/objects/", "viewer", 200),
    ("get", "/projects/shop/schema/diff/", "viewer", 200),
    ("get", "/projects/shop/schema/compare/", "viewer", 200),
    ("post", "/projects/shop/schema/compare/", "engineer", 302),
    ("get", "/projects/shop/schema/public/orders/", "viewer", 200),
]
RANK = {"viewer": 1, "engineer": 2, "admin": 3}


@pytest.fixture(scope="module")
def shop_database(django_db_blocker):
    """One real target for the whole matrix (creating a database per case would dominate the run time)."""
    name = pg.create_database("perm")
    with pg.admin_connect(name) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
    yield name
    pg.drop_database(name)


@pytest.fixture
def shop_snapshot(team, shop_database):
    project = Project.objects.create(
        team=team, name="Shop", slug="shop", pooled_url=pg.url_for(shop_database)
    )
    catalog, _ = read_project_catalog(project)
    return store_catalog(project, catalog)


@pytest.mark.parametrize("method, url, minimum, ok", URLS)
@pytest.mark.parametrize("who", [None, "no_team", "other_team", "viewer", "engineer", "admin"])
def test_permission_matrix(client_for, shop_snapshot, method, url, minimum, ok, who):
    response = getattr(client_for(who), method)(url)
    if who is None:
        expected = 302
    elif who in ("no_team", "other_team"):
        expected = 404
    elif RANK[who] < RANK[minimum]:
        expected = 403
    else:
        expected = ok
    assert response.status_code == expected
    if who is None:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "url",
    [
        "/projects/shop/schema/",
        "/projects/shop/schema/advice/",
        "/projects/shop/schema/diff/",
        "/projects/shop/schema/objects/",
    ],
)
def test_pages_refuse_other_methods(client_for, shop_snapshot, url):
    assert client_for("admin").post(url).status_code == 405


def test_viewer_refresh_attempt_changes_nothing_but_is_audited_as_denied(client_for, shop_snapshot):
    before = AuditEvent.objects.count()
    runs_before = TaskRun.objects.count()
    assert client_for("viewer").post("/projects/shop/schema/refresh/").status_code == 403
    assert TaskRun.objects.count() == runs_before
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(action="schema.refresh")
    assert (event.outcome, event.actor.username) == ("denied", "viewer")
