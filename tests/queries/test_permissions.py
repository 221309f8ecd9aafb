"""Permission matrix over every URL of the queries area: anonymous, other team, viewer, engineer, admin."""

import pytest

from dashboard.models import AuditEvent, QueryText
from dashboard.queries.collector import collect_project
from tests.queries.conftest import run_workload

pytestmark = pytest.mark.django_db

WHO = ["anonymous", "other_team", "viewer", "engineer", "admin"]
# pid 1 is never a client session of the target database: the signal fails cleanly (and is audited).
MATRIX = [
    # method, url, data, {who: status}; other_team is 404 unless given
    ("get", "/projects/shop/queries/", None, {"viewer": 200, "engineer": 200, "admin": 200}),
    (
        "get",
        "/projects/shop/queries/?window=7d&sort=calls",
        None,
        {"viewer": 200, "engineer": 200, "admin": 200},
    ),
    ("get", "/projects/shop/queries/{qid}/", None, {"viewer": 200, "engineer": 200, "admin": 200}),
    (
        "post",
        "/projects/shop/queries/{qid}/explain/",
        {"mode": "plain", "param1": "1"},
        {"viewer": 200, "engineer": 200, "admin": 200},
    ),
    (
        "post",
        "/projects/shop/queries/{qid}/explain/",
        {"mode": "analyze", "param1": "1"},
        {"viewer": 403, "engineer": 200, "admin": 200},
    ),
    (
        "get",
        "/projects/shop/queries/{qid}/explain/",
        None,
        {"other_team": 405, "viewer": 405, "engineer": 405, "admin": 405},
    ),
    # EXPLAIN ANALYZE on a temporary Neon branch: engineers and admins (its plan may show the values they
    # typed). "shop" has no Neon API, so their request is refused with a message (400), not started.
    (
        "post",
        "/projects/shop/queries/{qid}/explain/branch/",
        {"param1": "1"},
        {"viewer": 403, "engineer": 400, "admin": 400},
    ),
    (
        "get",
        "/projects/shop/queries/{qid}/explain/branch/",
        None,
        {"viewer": 403, "engineer": 302, "admin": 302},
    ),
    (
        "post",
        "/projects/shop/queries/{qid}/explain/branch/cancel/",
        {},
        {"viewer": 403, "engineer": 302, "admin": 302},
    ),
    (
        "get",
        "/projects/shop/queries/{qid}/explain/branch/cancel/",
        None,
        {"other_team": 405, "viewer": 405, "engineer": 405, "admin": 405},
    ),
    # "Collect now" connects (and may wake a Neon compute): engineers and admins; its status partial: all.
    ("post", "/projects/shop/queries/collect/", {}, {"viewer": 403, "engineer": 302, "admin": 302}),
    ("get", "/projects/shop/queries/collect/", None, {"viewer": 200, "engineer": 200, "admin": 200}),
    ("get", "/projects/shop/activity/", None, {"viewer": 200, "engineer": 200, "admin": 200}),
    ("get", "/projects/shop/activity/1/cancel/", None, {"viewer": 403, "engineer": 200, "admin": 200}),
    ("post", "/projects/shop/activity/1/cancel/", {}, {"viewer": 403, "engineer": 302, "admin": 302}),
    ("get", "/projects/shop/activity/1/terminate/", None, {"viewer": 403, "engineer": 403, "admin": 200}),
    ("post", "/projects/shop/activity/1/terminate/", {}, {"viewer": 403, "engineer": 403, "admin": 302}),
    ("get", "/projects/shop/health/", None, {"viewer": 200, "engineer": 200, "admin": 200}),
    # Refreshing connects (and may wake a Neon compute): engineers and admins only.
    ("post", "/projects/shop/health/refresh/", {}, {"viewer": 403, "engineer": 302, "admin": 302}),
    (
        "get",
        "/projects/shop/health/refresh/",
        None,
        {"other_team": 405, "viewer": 405, "engineer": 405, "admin": 405},
    ),
]


@pytest.fixture
def queryid(project, target_url):
    collect_project(project)
    run_workload(target_url, {"SELECT name FROM items WHERE id = %s": 2})
    collect_project(project)
    return QueryText.objects.get(project=project, text__contains="items WHERE id").queryid


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    "method,url,data,expected", MATRIX, ids=[f"{m} {u} {d or ''}" for m, u, d, _ in MATRIX]
)
def test_permission_matrix(client_for, queryid, who, method, url, data, expected):
    client = client_for(None if who == "anonymous" else who)
    url = url.format(qid=queryid)
    response = client.post(url, data) if method == "post" else client.get(url)
    if who == "anonymous":  # login_required comes first, whatever the method
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:  # other teams get 404 (the project's existence is not revealed), or 405 for a wrong method
        assert response.status_code == expected.get(who, 404)


@pytest.mark.parametrize(
    "who,url,data,action",
    [
        ("viewer", "/projects/shop/health/refresh/", {}, "health.refresh"),
        ("viewer", "/projects/shop/queries/collect/", {}, "queries.collect_now"),
        ("viewer", "/projects/shop/activity/1/cancel/", {}, "activity.cancel"),
        ("engineer", "/projects/shop/activity/1/terminate/", {}, "activity.terminate"),
        (
            "viewer",
            "/projects/shop/queries/{qid}/explain/",
            {"mode": "analyze", "param1": "1"},
            "query.explain_analyze",
        ),
        (
            "viewer",
            "/projects/shop/queries/{qid}/explain/branch/",
            {"param1": "1"},
            "query.explain_on_branch",
        ),
        (
            "viewer",
            "/projects/shop/queries/{qid}/explain/branch/cancel/",
            {},
            "query.explain_on_branch.cancel",
        ),
    ],
)
def test_denied_attempts_are_audited(client_for, queryid, who, url, data, action):
    response = client_for(who).post(url.format(qid=queryid), data)
    assert response.status_code == 403
    event = AuditEvent.objects.get(action=action)
    assert (event.outcome, event.actor.username) == ("denied", who)
